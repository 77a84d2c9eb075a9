"""Notebook 10 panel: why the chunk size is 64-128 on a GPU -- FLOPs against bytes as C varies.

For the batched chunkwise form (linattn_edu.torch.chunked_linear_attention), per head of length n:

    FLOPs  = linattn_edu.costs.chunked_cost(n, m, d_v, C).flops     ~ 2 n C (m + d_v + 1) + 4 n m (d_v + 1)
    bytes  = e [ 3 n d + n d_v             inputs read, output written (the floor of any method)
                 + 4 n m                   phi(Q), phi(K) written once, read once
                 + 2 n C                   the (n/C) blocks A_[c] of C x C scores, written once, read once
                 + 4 (n / C) m d_v ]       per-chunk states H_[c] and S_[c], each written once, read once

(e = bytes per element). The block term grows with C, the state term shrinks with C: bytes are smallest
at C* = sqrt(2 m d_v) (90 for m = d_v = 64). Times are these counts over the measured ceilings of the
stored H200 run (copy bandwidth, bf16 matmul rate): lower bounds, not predictions -- real kernels add
launches, re-reads and small-matmul inefficiency. The measured compiled times at C = 64 and 128 are
drawn for comparison.
"""
import math

import numpy as np

from . import hint, styled

from .. import costs
from . import nb10_scaling

CHUNKS = (8, 16, 32, 64, 128, 256, 512)
DEFAULTS = dict(m=64, d_v=64, n=65536, mode="fwd")
FIGSIZE = (10, 4.2)


def controls():
    import ipywidgets as w
    wide = {"description_width": "initial"}
    return {"m": hint(w.IntSlider(value=64, min=16, max=256, step=16, description="features m", style=wide),
                      "m = d (elu + 1); n = 65,536 tokens, heads of the stored H200 run"),
            "d_v": w.IntSlider(value=64, min=16, max=256, step=16, description="value width d_v", style=wide),
            "mode": w.ToggleButtons(options=[("forward", "fwd"), ("forward + backward", "fwd+bwd")], value="fwd",
                                    description="pass", style={"button_width": "150px"})}


def traffic_bytes(n, d, m, d_v, C, elem=2):
    """Bytes moved by the batched chunkwise form, per head (the model in the module docstring)."""
    return elem * (3 * n * d + n * d_v + 4 * n * m + 2 * n * C + 4 * (n / C) * m * d_v)


def best_chunk(m, d_v):
    """C* = sqrt(2 m d_v): where d/dC of 2 n C + 4 n m d_v / C is zero."""
    return math.sqrt(2 * m * d_v)


def measured(mode="fwd", n=65536):
    """Measured compiled chunkwise times (ms) at T = n by chunk size, from the stored H200 files."""
    out = {}
    for C, path in ((64, None), (128, nb10_scaling.DEFAULT_RESULTS.replace(".json", "-compiled-c128.json"))):
        try:
            T, ms = nb10_scaling.series(nb10_scaling.load(path), "chunked_compiled", mode)
        except FileNotFoundError:
            continue
        if n in T:
            out[C] = float(ms[list(T).index(n)])
    return out


def compute(m=64, d_v=64, n=65536, mode="fwd"):
    record = nb10_scaling.load()
    meta, ceil = record["meta"], record["ceilings"]
    heads = meta["B"] * meta["H"]
    d = m                                                     # elu+1 keeps the width: m = d
    Cs = np.array(CHUNKS)
    fwd_flops = np.array([costs.chunked_cost(n, m, d_v, int(C)).flops for C in Cs], dtype=float) * heads
    fwd_bytes = np.array([traffic_bytes(n, d, m, d_v, int(C)) for C in Cs]) * heads
    factor = 1.0 if mode == "fwd" else 3.0                    # backward ~ twice the forward's work and traffic
    flops, nbytes = fwd_flops * factor, fwd_bytes * factor
    return {"Cs": Cs, "flops": flops, "bytes": nbytes, "n": n, "m": m, "d_v": d_v, "mode": mode,
            "flops_ms": flops / (ceil["bf16_matmul_TFLOPs"] * 1e12) * 1e3,
            "bytes_ms": nbytes / (ceil["copy_TBps"] * 1e12) * 1e3,
            "intensity": flops / nbytes,
            "ridge": ceil["bf16_matmul_TFLOPs"] * 1e12 / (ceil["copy_TBps"] * 1e12),
            "C_star": best_chunk(m, d_v),
            "measured": measured(mode, n) if (m, d_v, n) == (meta["D"], meta["D"], 65536) else {},
            "heads": heads}


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_t, ax_i = fig.subplots(1, 2)
    Cs = result["Cs"]
    ax_t.loglog(Cs, result["bytes_ms"], "k-o", ms=4, label="bytes / copy bandwidth")
    ax_t.loglog(Cs, result["flops_ms"], "k--s", ms=4, label="FLOPs / bf16 matmul rate")
    if result["measured"]:
        C_meas = sorted(result["measured"])
        ax_t.loglog(C_meas, [result["measured"][C] for C in C_meas], "D", color="tab:blue", mfc="none",
                    label="measured, torch.compile (H200)")
    vals = np.concatenate([result["bytes_ms"], result["flops_ms"], list(result["measured"].values())])
    ax_t.set_ylim(vals.min() / 2, vals.max() * 30)          # the top decade is the legend's
    ax_t.axvline(result["C_star"], color="0.5", lw=0.8, ls=":")
    ax_t.text(result["C_star"], ax_t.get_ylim()[0], f" C* = {result['C_star']:.0f}", va="bottom")
    ax_t.set_xlabel("chunk size C")
    ax_t.set_ylabel("ms (floor)")
    fig.suptitle(f"{'forward' if result['mode'] == 'fwd' else 'forward + backward'}, n = {result['n']}, "
                 f"m = {result['m']}, d_v = {result['d_v']}, {result['heads']} heads", x=0.01, ha="left")
    ax_t.set_title("time floors (lower bounds)")
    ax_t.legend(loc="upper left")
    ax_i.semilogx(Cs, result["intensity"], "k-o", ms=4, label="chunkwise form")
    ax_i.axhline(result["ridge"], color="tab:red", lw=0.8, ls="--", label="ridge point of the H200")
    ax_i.set_yscale("log")
    ax_i.set_xlabel("chunk size C")
    ax_i.set_ylabel("FLOP per byte")
    ax_i.set_title("FLOP/byte: below the ridge = memory-bound")
    ax_i.legend()
    for ax in (ax_t, ax_i):
        ax.grid(True, lw=0.3, alpha=0.5)
    for ax in fig.axes:                      # minor log ticks cost most of a redraw
        ax.minorticks_off()
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.84, wspace=0.25)
    return fig
