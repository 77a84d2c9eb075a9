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

from . import decade_limits, hint, styled

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


def _time_limits(result):
    vals = np.concatenate([result["bytes_ms"], result["flops_ms"], list(result["measured"].values())])
    return decade_limits(vals.min() / 2, vals.max() * 30)          # the top decade and more is the legend's


def _intensity_limits(result):
    return decade_limits(min(result["intensity"].min(), result["ridge"]) / 1.2, max(result["intensity"].max(), result["ridge"]) * 1.2)


@styled
def draw(result, fig=None):
    """Artists built once (the measured points and their legend too, hidden where there are none); update()
    moves them. Both y axes snap to whole decades, so most m and d_v moves blit."""
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_t, ax_i = fig.subplots(1, 2)
    Cs = result["Cs"]
    margin = (Cs[-1] / Cs[0]) ** 0.05                        # matplotlib's 5 % of the log range, fixed
    bytes_line, = ax_t.loglog(Cs, result["bytes_ms"], "k-o", ms=4, label="bytes / copy bandwidth")
    flops_line, = ax_t.loglog(Cs, result["flops_ms"], "k--s", ms=4, label="FLOPs / bf16 matmul rate")
    measured, = ax_t.loglog([], [], "D", color="tab:blue", mfc="none", label="measured, torch.compile (H200)")
    star_line = ax_t.axvline(result["C_star"], color="0.5", lw=0.8, ls=":")
    star = ax_t.text(result["C_star"], 1.0, "", va="bottom")
    ax_t.set_xlim(Cs[0] / margin, Cs[-1] * margin)
    ax_t.set_xlabel("chunk size C")
    ax_t.set_ylabel("ms (floor)")
    suptitle = fig.suptitle("", x=0.01, ha="left")
    ax_t.set_title("time floors (lower bounds)")
    legend_measured = ax_t.legend(handles=[bytes_line, flops_line, measured], loc="upper left")
    ax_t.add_artist(legend_measured)                          # kept when the second legend is made
    legend_floors = ax_t.legend(handles=[bytes_line, flops_line], loc="upper left")
    intensity, = ax_i.semilogx(Cs, result["intensity"], "k-o", ms=4, label="chunkwise form")
    ax_i.axhline(result["ridge"], color="tab:red", lw=0.8, ls="--", label="ridge point of the H200")
    ax_i.set_yscale("log")
    ax_i.set_xlim(Cs[0] / margin, Cs[-1] * margin)
    ax_i.set_xlabel("chunk size C")
    ax_i.set_ylabel("FLOP per byte")
    ax_i.set_title("FLOP/byte: below the ridge = memory-bound")
    legend_i = ax_i.legend(loc="lower right")
    for ax in (ax_t, ax_i):
        ax.grid(True, lw=0.3, alpha=0.5)
    for ax in fig.axes:                      # minor log ticks cost most of a redraw
        ax.minorticks_off()
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.84, wspace=0.25)
    fig._linattn = dict(ax_t=ax_t, ax_i=ax_i, bytes_line=bytes_line, flops_line=flops_line, measured=measured,
                        star_line=star_line, star=star, suptitle=suptitle, legends=(legend_measured, legend_floors),
                        intensity=intensity, legend_i=legend_i, Cs=tuple(Cs))
    update(fig, result)
    return fig


def update(fig, result):
    """New floors, measured points (shown with their legend only where measured), C* and texts."""
    a = getattr(fig, "_linattn", None)
    if a is None or a["Cs"] != tuple(result["Cs"]):
        return False
    a["bytes_line"].set_ydata(result["bytes_ms"])
    a["flops_line"].set_ydata(result["flops_ms"])
    C_meas = sorted(result["measured"])
    a["measured"].set_data(C_meas, [result["measured"][C] for C in C_meas])
    a["measured"].set_visible(bool(C_meas))
    legend_measured, legend_floors = a["legends"]
    legend_measured.set_visible(bool(C_meas))
    legend_floors.set_visible(not C_meas)
    lo, hi = _time_limits(result)
    a["ax_t"].set_ylim(lo, hi)
    a["star_line"].set_xdata([result["C_star"]] * 2)
    right = result["C_star"] > 128                         # label on the line's left where the right is short of room
    a["star"].set_position((result["C_star"], lo))
    a["star"].set_horizontalalignment("right" if right else "left")
    a["star"].set_text(f"C* = {result['C_star']:.0f} " if right else f" C* = {result['C_star']:.0f}")
    a["suptitle"].set_text(f"{'forward' if result['mode'] == 'fwd' else 'forward + backward'}, n = {result['n']}, "
                           f"m = {result['m']}, d_v = {result['d_v']}, {result['heads']} heads")
    a["intensity"].set_ydata(result["intensity"])
    a["ax_i"].set_ylim(*_intensity_limits(result))
    return [a["bytes_line"], a["flops_line"], a["measured"], a["star_line"], a["star"], legend_measured,
            legend_floors, a["suptitle"], a["intensity"], a["legend_i"]]
