"""Notebook 07 panel: a constant decay a, as a forgetting window.

Half-life h (tokens) -> a = 2^(-1/h), log a_t = log a for every t. The panel shows

    L_ij = prod_{j < t <= i} a_t = a^(i - j)     the decay mask of (L ∘ Q K^T) V   (from lnp.decay_mask)
    row n of L: the weight token j still has in the last output, against the distance n - j
    horizon: how far back a token keeps at least 1% of its weight, ceil(log 0.01 / log a)
    effective memory: sum_j L_nj = (1 - a^n) / (1 - a) -> 1 / (1 - a) tokens for long n

and checks the quadratic form against the recurrence (lnp.decayed_linear_attention) on random q, k, v.
"""
import math

import numpy as np

from . import hint, nice_limit, styled

from .. import numpy as lnp

DEFAULTS = dict(half_life=8.0, n=48, seed=0)
FIGSIZE = (10, 3.8)
HALF_LIVES = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0, 96.0, 128.0)


def controls():
    import ipywidgets as w
    wide = {"description_width": "initial"}
    return {"half_life": hint(w.SelectionSlider(options=HALF_LIVES, value=8.0, description="half-life h (tokens)",
                                                style=wide), "after h tokens a weight has halved: a = 2^(−1/h)"),
            "n": w.IntSlider(value=48, min=8, max=128, step=8, description="length n (tokens)", style=wide)}
READABLE = 0.01                       # "can still be read": weight >= 1% of a fresh token's


def compute(half_life=8.0, n=48, seed=0, d=4):
    n = int(n)
    a = 2.0 ** (-1.0 / half_life)
    log_decay = np.full(n, math.log(a))
    L = lnp.decay_mask(log_decay)                                        # (n, n)
    rng = np.random.default_rng(seed)
    q, k, v = rng.standard_normal((3, n, d))
    out, _ = lnp.decayed_linear_attention(q, k, v, log_decay)           # the recurrence
    quadratic = (L * (q @ k.T)) @ v                                      # (L ∘ Q K^T) V
    horizon = math.ceil(math.log(READABLE) / math.log(a))
    return {"a": a, "half_life": half_life, "n": n, "L": L, "last_row": L[-1], "out": out,
            "horizon": horizon, "effective_memory": float(L[-1].sum()), "limit_memory": 1.0 / (1.0 - a),
            "max_diff_quadratic_vs_recurrent": float(np.abs(quadratic - out).max())}


def _out_limit(out):
    return nice_limit(float(np.abs(out).max()))                      # steps 1, 2, 5 x 10^k: a blit keeps it


def _frame(n):
    """Axes span 2^ceil(log2 n) tokens: n moves within a power of two keep the axes (and blit)."""
    return 2 ** math.ceil(math.log2(max(n, 2)))


def _set_frame(a, frame):
    """x limits (and the mask's y limits) of a frame of 2^k tokens."""
    a["frame"] = frame
    a["ax_m"].set_xlim(-0.5, frame - 0.5)
    a["ax_m"].set_ylim(frame - 0.5, -0.5)
    for ax in (a["ax_w"], a["ax_o"]):
        ax.set_xlim(-0.05 * frame, 1.05 * frame)


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_m, ax_w, ax_o = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.3, 1.3]})
    n, frame = result["n"], _frame(result["n"])
    image = ax_m.imshow(result["L"], cmap="Greys", vmin=0, vmax=1)
    ax_m.set_facecolor("0.88")                                           # grey: past the sequence's end
    title_m = ax_m.set_title("")
    ax_m.set_xlabel("key position j")
    ax_m.set_ylabel("query position i")
    dist = np.arange(n)[::-1]                                            # n - 1 - j for j = 0..n-1
    row, = ax_w.plot(dist, result["last_row"], color="0.2", marker=".", ms=3)
    readable = ax_w.axhline(READABLE, color="0.5", ls=":", lw=1)
    horizon = ax_w.axvline(0, color="tab:orange", ls="--", lw=1, label="1% horizon")
    half = ax_w.axvline(0, color="0.4", ls="-.", lw=1, label="half-life")
    ax_w.set_ylim(0, 1.5)                                                 # room for the legend above the curve
    ax_w.set_xlabel("tokens back from the last")
    ax_w.set_ylabel("weight L_nj")
    title_w = ax_w.set_title("")
    legend = ax_w.legend(loc="upper right")
    out = result["out"]
    outs = [ax_o.plot(out[:, c], color="0.2", ls=ls, lw=1)[0] for c, ls in zip(range(out.shape[1]), ("-", "--", ":", "-."))]
    ax_o.set_xlabel("token t")
    ax_o.set_ylabel("o_t (4 dims)")
    title_o = ax_o.set_title("")
    fig.subplots_adjust(left=0.065, right=0.985, bottom=0.16, top=0.84, wspace=0.35)
    fig._linattn = dict(frame=frame, image=image, row=row, horizon=horizon, half=half, legend=legend, outs=outs, ax_o=ax_o,
                        ax_m=ax_m, ax_w=ax_w, titles=(title_m, title_w, title_o), readable=readable,
                        spines_m=tuple(ax_m.spines.values()))
    _set_frame(fig._linattn, frame)
    update(fig, result)
    return fig


def update(fig, result):
    """New data in the same artists; the axes stay unless n left its power-of-two frame (then their x limits
    move to the new frame: one full Agg draw, no rebuild)."""
    a = getattr(fig, "_linattn", None)
    if a is None:
        return False
    n, frame = result["n"], _frame(result["n"])
    if a["frame"] != frame:
        _set_frame(a, frame)
    a["image"].set_data(result["L"])
    a["image"].set_extent((-0.5, n - 0.5, n - 0.5, -0.5))
    a["row"].set_data(np.arange(n)[::-1], result["last_row"])
    a["horizon"].set_xdata([result["horizon"]] * 2)
    a["half"].set_xdata([result["half_life"]] * 2)
    for line, column in zip(a["outs"], result["out"].T):
        line.set_data(np.arange(n), column)
    lim = _out_limit(result["out"])
    a["ax_o"].set_ylim(-1.05 * lim, 1.05 * lim)
    title_m, title_w, title_o = a["titles"]
    title_m.set_text(f"decay mask L (a = {result['a']:.3f})")
    # the two lines' values here, not in their legend: a legend that changes is laid out again on every move
    title_w.set_text(f"memory Σ_j L_nj = {result['effective_memory']:.1f}\n"
                     f"half-life {result['half_life']:g}, 1% horizon {result['horizon']}")
    title_o.set_text(f"output; quadratic vs\nrecurrent: max diff {result['max_diff_quadratic_vs_recurrent']:.0e}")
    # in drawing order: the mask's frame over the mask, the 1% line over the row of L (as a fresh draw has them)
    return [a["image"], *a["spines_m"], a["row"], a["readable"], a["horizon"], a["half"], a["legend"], *a["outs"], *a["titles"]]
