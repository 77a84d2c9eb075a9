"""Notebook 11 panel: one attention row of the trained byte LM, softmax against a linear method.

Sliders: layer, head, window (of the stored validation slice), row (query position), method ->
left: the softmax row and the method's row over the keys 0..row, with the bytes the softmax row
attends to most written under the axis; right: every row of this head (WINDOWS windows) as a point,
total variation to softmax against the row's normalised entropy, the chosen row marked.
"""
import functools

import numpy as np

from . import hint, styled

DEFAULTS = dict(layer=1, head=0, window=0, row=100, method="elu+1")
FIGSIZE = (11, 4.2)
WINDOWS = 8
TOP = 5


@functools.lru_cache(maxsize=4)
def _model_qkv(windows=WINDOWS):
    import torch

    from .. import lm
    model, meta, val = lm.load()
    x = val[:windows].long()
    with torch.no_grad():
        qkv = model.qkv(x[:, :-1])
    return x[:, :-1].numpy(), [(q.double(), k.double(), v.double()) for q, k, v in qkv]


@functools.lru_cache(maxsize=64)
def _head_maps(layer, head, method):
    import torch

    from .. import audit
    _, qkv = _model_qkv()
    q, k, v = (t[:, head] for t in qkv[layer])                     # (W, n, d)
    with torch.no_grad():
        A = audit.method_weights("softmax", q, k).numpy()
        A_hat = audit.method_weights(method, q, k).numpy()
    return A, A_hat, v.numpy()


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
    from .. import audit
    tokens, qkv = _model_qkv()
    L, H = len(qkv), qkv[0][0].shape[1]
    if not (0 <= layer < L and 0 <= head < H and 0 <= window < WINDOWS and 1 <= row < tokens.shape[1]):
        raise ValueError(f"layer in [0, {L}), head in [0, {H}), window in [0, {WINDOWS}), row in [1, {tokens.shape[1]}) "
                         f"(got layer={layer}, head={head}, window={window}, row={row})")
    A, A_hat, v = _head_maps(layer, head, method)
    m = audit.row_metrics(A, A_hat, v)
    p, p_hat = A[window, row, :row + 1], A_hat[window, row, :row + 1]
    top = np.argsort(-p)[:TOP]
    text = bytes(tokens[window].astype(np.uint8)).decode("latin-1")
    return {"p": p, "p_hat": p_hat, "top": top, "top_bytes": [text[j] for j in top],
            "query_byte": text[row], "context": text[max(0, row - 40):row + 1],
            "tv": float(m["tv"][window, row]), "overlap": float(m["overlap"][window, row]),
            "out_err": float(m["out_err"][window, row]), "norm_entropy_row": float(m["norm_entropy"][window, row]),
            "all_tv": m["tv"][:, 8:].ravel(), "all_norm_entropy": m["norm_entropy"][:, 8:].ravel(),
            "layer": layer, "head": head, "row": row, "method": method}


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_r, ax_s = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.7, 1]})
    j = np.arange(len(result["p"]))
    ax_r.plot(j, result["p"], color="0.1", lw=1.8, label="softmax")
    ax_r.plot(j, result["p_hat"], color="tab:orange", lw=1.4, ls="--", label=result["method"])
    for t, b in zip(result["top"], result["top_bytes"]):
        ax_r.annotate(repr(b)[1:-1], (t, result["p"][t]), textcoords="offset points", xytext=(0, 4), ha="center")
    ax_r.set_xlabel(f"key position j (query i = {result['row']})")
    ax_r.set_ylabel("attention weight")
    ax_r.set_title(f"layer {result['layer']} head {result['head']}: TV {result['tv']:.2f}, "
                   f"top-5 overlap {result['overlap']:.1f}")
    ax_r.legend(loc="upper left")
    ax_s.scatter(result["all_norm_entropy"], result["all_tv"], s=4, color="0.6")
    ax_s.scatter([result["norm_entropy_row"]], [result["tv"]], s=60, color="tab:orange", marker="x")
    ax_s.set_xlabel("row entropy / log(i+1)")
    ax_s.set_ylabel("TV to softmax")
    ax_s.set_title("every row of this head")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.9, wspace=0.28)
    return fig
