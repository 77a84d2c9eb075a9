"""Notebook 11 panel: one attention row of the trained byte LM, softmax against a linear method.

Sliders: layer, head, window (of the stored validation slice), row (query position), method ->
left: the softmax row and the method's row over the keys 0..row, with the bytes the softmax row
attends to most written under the axis; right: every row of this head (WINDOWS windows) as a point,
total variation to softmax against the row's normalised entropy, the chosen row marked.
"""
import contextlib
import functools
import math

import numpy as np

from . import axis_ticks, hint, nice_limit, styled

DEFAULTS = dict(layer=1, head=0, window=0, row=100, method="elu+1")
FIGSIZE = (11, 4.2)
WINDOWS = 8
TOP = 5
ROW_BLOCK = 8             # rows 8-15, 16-23, ... share one weight axis, so 7 of 8 row moves blit


@functools.lru_cache(maxsize=4)
def _model_qkv(windows=WINDOWS):
    import torch

    from .. import lm
    model, meta, val = lm.load()
    x = val[:windows].long()
    with torch.no_grad(), _one_torch_thread():
        qkv = model.qkv(x[:, :-1])
    return x[:, :-1].numpy(), [(q.double(), k.double(), v.double()) for q, k, v in qkv]


@contextlib.contextmanager
def _one_torch_thread():
    """torch on one thread for the panel's small (W, n, d) ops: on a busy 2-core machine its thread pool's
    waits cost more than the work (a new head: ~200 ms on 2 threads against ~20 ms on one, measured)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@functools.lru_cache(maxsize=64)
def _head_maps(layer, head, method):
    """Softmax and method maps of one head, (W, n, n) each, its values (W, n, d) and their row metrics
    (audit.row_metrics, (W, n) each), computed once per head and method: row and window moves only index them."""
    import torch

    from .. import audit
    _, qkv = _model_qkv()
    q, k, v = (t[:, head] for t in qkv[layer])                     # (W, n, d)
    with torch.no_grad(), _one_torch_thread():
        A = audit.method_weights("softmax", q, k).numpy()
        A_hat = audit.method_weights(method, q, k).numpy()
    v = v.numpy()
    return A, A_hat, v, audit.row_metrics(A, A_hat, v)


@functools.lru_cache(maxsize=256)
def _block_range(layer, head, method, window, r0):
    """Weight axis of rows r0 .. r0 + ROW_BLOCK - 1 (keys j <= i only): both rows' lowest and highest weight,
    with room for the byte labels above. One range a block, so row moves inside it keep the axis (and blit)."""
    A, A_hat, _, _ = _head_maps(layer, head, method)
    rows = slice(r0, r0 + ROW_BLOCK)
    causal = np.tril(np.ones(A.shape[-2:], dtype=bool))[rows]             # (ROW_BLOCK, n): keys 0..i of each row
    block = np.concatenate([A[window, rows][causal], A_hat[window, rows][causal]])
    hi = 1.15 * float(block.max())
    return 1.15 * min(float(block.min()), 0.0) - 0.02 * hi, hi


def controls():
    import ipywidgets as w

    from .. import audit
    wide = {"description_width": "initial"}
    return {"layer": w.IntSlider(value=1, min=0, max=2, description="layer", style=wide),
            "head": w.IntSlider(value=0, min=0, max=3, description="head", style=wide),
            "window": hint(w.IntSlider(value=0, min=0, max=WINDOWS - 1, description="window", style=wide),
                           "one of the stored validation windows (128 bytes of stdlib source)"),
            "row": hint(w.IntSlider(value=100, min=8, max=127, description="row i (query position)", style=wide),
                        "the query; it sees keys 0..i"),
            "method": w.Dropdown(options=audit.method_names(), value="elu+1", description="method", style=wide)}


def compute(layer=1, head=0, window=0, row=100, method="elu+1"):
    tokens, qkv = _model_qkv()
    L, H = len(qkv), qkv[0][0].shape[1]
    if not (0 <= layer < L and 0 <= head < H and 0 <= window < WINDOWS and 1 <= row < tokens.shape[1]):
        raise ValueError(f"layer in [0, {L}), head in [0, {H}), window in [0, {WINDOWS}), row in [1, {tokens.shape[1]}) "
                         f"(got layer={layer}, head={head}, window={window}, row={row})")
    A, A_hat, v, m = _head_maps(layer, head, method)
    p, p_hat = A[window, row, :row + 1], A_hat[window, row, :row + 1]
    top = np.argsort(-p)[:TOP]
    text = bytes(tokens[window].astype(np.uint8)).decode("latin-1")
    lo, hi = _block_range(layer, head, method, window, row - row % ROW_BLOCK)
    return {"weight_range": (lo, hi),
            "tv_limit": nice_limit(float(max(m["tv"][:, 8:].max(), m["tv"][window, row]))),
            "p": p, "p_hat": p_hat, "top": top, "top_bytes": [text[j] for j in top],
            "query_byte": text[row], "context": text[max(0, row - 40):row + 1],
            "tv": float(m["tv"][window, row]), "overlap": float(m["overlap"][window, row]),
            "out_err": float(m["out_err"][window, row]), "norm_entropy_row": float(m["norm_entropy"][window, row]),
            "all_tv": m["tv"][:, 8:].ravel(), "all_norm_entropy": m["norm_entropy"][:, 8:].ravel(),
            "layer": layer, "head": head, "row": row, "method": method}


def _frame(row):
    """The key axis spans 2^ceil(log2(i + 1)) positions: row moves within a power of two keep it."""
    return 2 ** math.ceil(math.log2(row + 1))


@styled
def draw(result, fig=None):
    """Artists built once; update() moves them. Axes: keys over the row's power-of-two frame, weights over the
    row's block of ROW_BLOCK rows (_block_range), TV to the head's largest (1, 2, 5 x 10^k steps).

    The weight range changes with layer, head, window and row block; so that those moves blit rather than
    redraw the whole figure, the left axes' y limits stay 0..1 and the weights reach them through a transform
    (``weight``: [lo, hi] -> [0, 1]) that update() resets. Only the y axis (ticks at the weight range's own
    tick values, labelled in weights) is redrawn with the rows: the picture is the one a plain weight axis gives."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import AutoLocator
    from matplotlib.transforms import Affine2D
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_r, ax_s = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.7, 1]})
    weight = Affine2D()                                           # weight units -> the axes' 0..1
    on_weights = weight + ax_r.transData
    soft, = ax_r.plot([], [], color="0.1", lw=1.8, label="softmax", transform=on_weights)
    approx, = ax_r.plot([], [], color="tab:orange", lw=1.4, ls="--", label=result["method"], transform=on_weights)
    tops = [ax_r.annotate("", (0, 0), xycoords=on_weights, textcoords="offset points", xytext=(0, 4), ha="center")
            for _ in range(len(result["top"]))]
    ax_r.set_ylim(0, 1)
    locator = AutoLocator()
    locator.set_axis(ax_r.yaxis)                                 # its tick count follows the axis's height
    ax_r.set_xlabel("key position j (query i sees keys 0..i)")
    ax_r.set_ylabel("attention weight")
    title = ax_r.set_title("")
    legend = ax_r.legend(loc="upper left")
    rows = ax_s.scatter(result["all_norm_entropy"], result["all_tv"], s=4, color="0.6")
    chosen = ax_s.scatter([result["norm_entropy_row"]], [result["tv"]], s=60, color="tab:orange", marker="x")
    ax_s.set_xlim(-0.03, 1.03)                                   # entropy / log(i + 1) lies in [0, 1]
    ax_s.set_xlabel("row entropy / log(i+1)")
    ax_s.set_ylabel("TV to softmax")
    ax_s.set_title("every row of this head")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9, wspace=0.28)
    fig._linattn = dict(ax_r=ax_r, ax_s=ax_s, soft=soft, approx=approx, tops=tops, title=title,
                        legend=legend, rows=rows, chosen=chosen, weight=weight, locator=locator)
    update(fig, result)
    return fig


def update(fig, result):
    """New rows, byte labels, points, texts, weight range (the transform and the y axis's ticks) and axes
    ranges (a range that moved makes the renderer re-take its background, without a rebuild)."""
    from matplotlib.ticker import FixedFormatter, FixedLocator
    a = getattr(fig, "_linattn", None)
    if a is None or len(a["tops"]) != len(result["top"]):
        return False
    ax_r = a["ax_r"]
    frame = _frame(result["row"])
    ax_r.set_xlim(-0.02 * frame, frame)
    lo, hi = result["weight_range"]
    a["weight"].clear().translate(0, -lo).scale(1, 1 / (hi - lo))
    ticks, labels = axis_ticks(a["locator"], lo, hi)
    ax_r.yaxis.set_major_locator(FixedLocator([(t - lo) / (hi - lo) for t in ticks]))
    ax_r.yaxis.set_major_formatter(FixedFormatter(labels))
    j = np.arange(len(result["p"]))
    a["soft"].set_data(j, result["p"])
    a["approx"].set_data(j, result["p_hat"])
    for ann, t, b in zip(a["tops"], result["top"], result["top_bytes"]):
        ann.xy = (t, result["p"][t])
        ann.set_text(repr(b)[1:-1])
    a["title"].set_text(f"layer {result['layer']} head {result['head']}, i = {result['row']}: TV {result['tv']:.2f}, "
                        f"top-5 overlap {result['overlap']:.1f}")
    a["legend"].get_texts()[1].set_text(result["method"])
    a["rows"].set_offsets(np.column_stack([result["all_norm_entropy"], result["all_tv"]]))
    a["chosen"].set_offsets([[result["norm_entropy_row"], result["tv"]]])
    lim = result["tv_limit"]
    a["ax_s"].set_ylim(-0.03 * lim, 1.03 * lim)
    return [ax_r.yaxis, a["soft"], a["approx"], *a["tops"], a["title"], a["legend"], a["rows"], a["chosen"]]
