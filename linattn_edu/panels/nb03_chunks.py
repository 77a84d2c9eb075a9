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


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_b, ax_c = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    C, n = result["chunk_size"], result["n"]
    ax_b.imshow(result["blocks"], cmap="Greys", vmin=0, vmax=2.6)
    for edge in np.arange(C, n, C) - 0.5:                      # chunk boundaries
        ax_b.axhline(edge, color="tab:orange", lw=0.8)
        ax_b.axvline(edge, color="tab:orange", lw=0.8)
    ax_b.set_title(f"C = {C}: dark = in-chunk block,\ngrey = via the state, white = future")
    ax_b.set_xlabel("key j")
    ax_b.set_ylabel("query i")
    Cs = result["Cs"]
    for key, style, label in (("flops", "-", "FLOPs"), ("memory", "--", "peak memory"),
                              ("steps", ":", "sequential steps")):
        ax_c.plot(Cs, result[key] / result[key].max(), style, color="black", label=label)
    ax_c.axvline(C, color="tab:orange", lw=1.5)
    ax_c.set_xscale("log", base=2)
    ax_c.xaxis.set_major_formatter(_plain)
    ax_c.set_xlabel("chunk size C  (1 = RNN, n = quadratic)")
    ax_c.set_ylabel("/ its maximum over C")
    ax_c.set_title(f"n = {n}, m = d_v = {result['m']}; chunked vs parallel:\nmax diff "
                   f"{result['max_diff_vs_parallel']:.0e}")
    ax_c.legend()
    few_ticks(fig)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.15, top=0.84, wspace=0.25)
    return fig


def _plain(x, _pos=None):
    return f"{x:g}"
