"""Notebook 03 panel: the chunkwise form, its block structure and its cost against the chunk size C.

Chunk-size slider -> (left) which pairs (i, j) of the causal n x n interaction each part computes:

    intra-chunk   j <= i in the same chunk        masked quadratic block  (phi(Q_c) phi(K_c)^T ⊙ M) V_c
    inter-chunk   j in an earlier chunk           through the state        phi(Q_c) S_[c]
    future        j > i                           never computed

(right) the cost model ``linattn_edu.costs.chunked_cost`` over every C from 1 (the RNN) to n (the
quadratic form): FLOPs, peak memory and the number of sequential steps, each relative to its largest
value. The chunked output at the chosen C is compared with the parallel (quadratic) form.
"""
import numpy as np

from . import hint, styled

from .. import costs
from .. import numpy as lnp
from .nb01_kernel_smoother import few_ticks

DEFAULTS = dict(chunk_size=8, n=32, m=16, d_v=16, seed=0)
FIGSIZE = (10, 4.0)


def controls():
    import ipywidgets as w
    wide = {"description_width": "initial"}
    return {"chunk_size": hint(w.IntSlider(value=8, min=1, max=32, description="chunk size C", style=wide),
                               "tokens per chunk; C > n is clamped to n"),
            "n": w.IntSlider(value=32, min=8, max=64, step=8, description="length n (tokens)", style=wide)}
PHI = "elu_plus_one"

FUTURE, INTER, INTRA = 0, 1, 2


def block_structure(n, chunk_size):
    """(n, n) int array: INTRA where j <= i in i's chunk, INTER where j is in an earlier chunk, FUTURE else."""
    chunk = np.arange(n) // chunk_size                        # (n,) chunk index of each position
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    return np.where(j > i, FUTURE, np.where(chunk[:, None] == chunk[None, :], INTRA, INTER))


def compute(chunk_size=8, n=32, m=16, d_v=16, seed=0):
    chunk_size = int(min(max(chunk_size, 1), n))
    Cs = np.arange(1, n + 1)
    table = [costs.chunked_cost(n, m, d_v, int(C)) for C in Cs]
    rng = np.random.default_rng(seed)
    q, k, v = rng.standard_normal((n, m)), rng.standard_normal((n, m)), rng.standard_normal((n, d_v))
    out, _ = lnp.chunked_linear_attention(q, k, v, PHI, chunk_size=chunk_size)   # elu+1 keeps m = d
    ref = lnp.kernel_attention(q, k, v, PHI, causal=True)
    return {"n": n, "m": m, "d_v": d_v, "chunk_size": chunk_size,
            "blocks": block_structure(n, chunk_size), "Cs": Cs,
            "flops": np.array([c.flops for c in table]), "memory": np.array([c.memory for c in table]),
            "steps": np.array([c.steps for c in table]),
            "max_diff_vs_parallel": float(np.abs(out - ref).max())}


def _frame(n):
    """The cost curves' C axis spans 1 .. 2^ceil(log2 n): n moves within a power of two keep it (and blit)."""
    return 2 ** int(np.ceil(np.log2(max(n, 2))))


def _boundaries(n, chunk_size):
    """Chunk boundaries as one polyline (NaN-separated) in the block picture's unit square: x = j / n, y = i / n."""
    edges = np.arange(chunk_size, n, chunk_size) / n                          # (#boundaries,)
    gap = np.full_like(edges, np.nan)
    ones, zeros = np.ones_like(edges), np.zeros_like(edges)
    x = np.concatenate([np.stack([zeros, ones, gap], 1).ravel(), np.stack([edges, edges, gap], 1).ravel()])
    y = np.concatenate([np.stack([edges, edges, gap], 1).ravel(), np.stack([zeros, ones, gap], 1).ravel()])
    return x, y                                                               # horizontal lines, then vertical


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_b, ax_c = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    frame = _frame(result["n"])
    # the n x n blocks fill the unit square whatever n is; the first and last index stand in for ticks
    image = ax_b.imshow(result["blocks"], cmap="Greys", vmin=0, vmax=2.6, extent=(0, 1, 1, 0))
    edges, = ax_b.plot([], [], color="tab:orange", lw=0.8)
    ax_b.set_xlim(0, 1)
    ax_b.set_ylim(1, 0)
    ends = [ax_b.text(0, -0.02, "0", ha="center", va="top", transform=ax_b.transAxes),
            ax_b.text(1, -0.02, "", ha="center", va="top", transform=ax_b.transAxes),
            ax_b.text(-0.02, 1, "0", ha="right", va="center", transform=ax_b.transAxes),
            ax_b.text(-0.02, 0, "", ha="right", va="center", transform=ax_b.transAxes)]
    title_b = ax_b.set_title("")
    ax_b.set_xlabel("key j")
    ax_b.set_ylabel("query i")
    curves = [ax_c.plot([], [], style, color="black", label=label)[0]
              for style, label in (("-", "FLOPs"), ("--", "peak memory"), (":", "sequential steps"))]
    now = ax_c.axvline(1, color="tab:orange", lw=1.5)
    ax_c.set_xscale("log", base=2)
    ax_c.set_xlim(2 ** -0.2, frame * 2 ** 0.2)
    ax_c.set_ylim(-0.05, 1.4)                 # every curve runs from its minimum to 1; the legend sits above 1
    ax_c.xaxis.set_major_formatter(_plain)
    ax_c.set_xlabel("chunk size C  (1 = RNN, n = quadratic)")
    ax_c.set_ylabel("/ its maximum over C")
    title_c = ax_c.set_title("")
    # in the band above 1, where no curve goes: a fixed place, so a move pastes the legend (a sprite) and never
    # places it anew ("best" cost 14 ms a move)
    legend = ax_c.legend(loc="upper center", ncol=3, columnspacing=1.0, handlelength=1.6, borderaxespad=0.3)
    few_ticks(fig)
    ax_c.set_yticks([0, 0.25, 0.5, 0.75, 1])
    ax_b.set_xticks([])                                      # after few_ticks: the texts `ends` label the square
    ax_b.set_yticks([])
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.15, top=0.84, wspace=0.25)
    fig._linattn = dict(frame=frame, ax_c=ax_c, image=image, edges=edges, ends=ends, title_b=title_b, curves=curves,
                        now=now, title_c=title_c, legend=legend,
                        spines=(*ax_b.spines.values(), *ax_c.spines.values()))
    update(fig, result)
    return fig


def update(fig, result):
    """New C or n in the same artists: the block picture is drawn in a unit square, the C axis spans n's
    power of two (_frame), the curves' axis is [0, 1]. When n leaves its power of two the C axis moves to the
    new frame (one full Agg draw, no rebuild)."""
    a = getattr(fig, "_linattn", None)
    if a is None:
        return False
    n, C = result["n"], result["chunk_size"]
    if a["frame"] != _frame(n):
        a["frame"] = _frame(n)
        a["ax_c"].set_xlim(2 ** -0.2, a["frame"] * 2 ** 0.2)
    a["image"].set_data(result["blocks"])
    a["edges"].set_data(*_boundaries(n, C))
    for text, pos in zip(a["ends"][1::2], ((1 - 0.5 / n, -0.02), (-0.02, 0.5 / n))):
        text.set_text(str(n - 1))                               # the centre of the last row / column
        text.set_position(pos)
    a["ends"][0].set_position((0.5 / n, -0.02))
    a["ends"][2].set_position((-0.02, 1 - 0.5 / n))
    a["title_b"].set_text(f"C = {C}: dark = in-chunk block,\ngrey = via the state, white = future")
    for line, key in zip(a["curves"], ("flops", "memory", "steps")):
        line.set_data(result["Cs"], result[key] / result[key].max())
    a["now"].set_xdata([C] * 2)
    a["title_c"].set_text(f"n = {n}, m = d_v = {result['m']}; chunked vs parallel:\nmax diff "
                          f"{result['max_diff_vs_parallel']:.0e}")
    return [a["image"], a["edges"], *a["ends"], a["title_b"], *a["curves"], a["now"], *a["spines"],
            a["title_c"], a["legend"]]


def _plain(x, _pos=None):
    return f"{x:g}"
