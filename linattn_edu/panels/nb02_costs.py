"""Notebook 02 panel: FLOPs and memory of the two multiplication orders, and where they cross.

Sliders n, d, m (and d_v) -> bars of the cost model ``linattn_edu.costs`` for

    softmax      exp(Q K^T / sqrt(d)) V'       (similarity width d)
    quadratic    (phi(Q) phi(K)^T) V'         (the same phi as below, width m)
    linear       phi(Q) (phi(K)^T V')          (reassociated)

and the FLOP curves over n on log-log axes with the crossover lengths n* marked.
"""
import numpy as np

from .. import costs
from .nb01_kernel_smoother import few_ticks

DEFAULTS = dict(n=512, d=64, m=64, d_v=64)

FORMS = ("softmax", "quadratic", "linear")


def plain_log_ticks(ax):
    """Log-axis tick labels as plain text (1e4 at the powers of ten), no minor ticks: mathtext labels cost ~30 ms a redraw."""
    from matplotlib.ticker import FuncFormatter, NullLocator
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(lambda x, _: f"1e{np.log10(x):.0f}" if x > 0 else "0"))
        axis.set_minor_locator(NullLocator())


def compute(n=512, d=64, m=64, d_v=64):
    at_n = {"softmax": costs.quadratic_attention_cost(n, d, d_v=d_v),
            "quadratic": costs.quadratic_attention_cost(n, d, m=m, d_v=d_v),
            "linear": costs.linear_attention_cost(n, m, d_v)}
    grid = np.unique(np.geomspace(8, 2 ** 16, 40).astype(int))              # lengths for the curves
    curves = {"softmax": np.array([costs.quadratic_attention_cost(int(x), d, d_v=d_v).flops for x in grid]),
              "quadratic": np.array([costs.quadratic_attention_cost(int(x), d, m=m, d_v=d_v).flops for x in grid]),
              "linear": np.array([costs.linear_attention_cost(int(x), m, d_v).flops for x in grid])}
    return {"n": n, "d": d, "m": m, "d_v": d_v,
            "flops": {f: at_n[f].flops for f in FORMS}, "memory": {f: at_n[f].memory for f in FORMS},
            "crossover_softmax": costs.crossover_length(d, m, d_v, baseline="softmax"),
            "crossover_kernel": costs.crossover_length(d, m, d_v, baseline="kernel"),
            "grid": grid, "curves": curves}


def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=(10, 3.2))
    fig.clear()
    ax_b, ax_c = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    shades = {"softmax": "0.15", "quadratic": "0.55", "linear": "0.92"}
    width = 0.26
    for i, f in enumerate(FORMS):                         # bars relative to softmax = 1
        rel = [result[key][f] / result[key]["softmax"] for key in ("flops", "memory")]
        xs = np.arange(2) + (i - 1) * width
        ax_b.bar(xs, rel, width, color=shades[f], edgecolor="black", label=f)
        for x, r in zip(xs, rel):
            ax_b.text(x, r, f"{r:.2g}", ha="center", va="bottom", fontsize=7)
    ax_b.set_xticks([0, 1], [f"FLOPs\n(softmax: {result['flops']['softmax']:.2g})",
                             f"memory, floats\n(softmax: {result['memory']['softmax']:.2g})"], fontsize=8)
    ax_b.set_ylabel("cost relative to softmax")
    ax_b.set_title(f"n = {result['n']}, d = {result['d']}, m = {result['m']}, d_v = {result['d_v']}", fontsize=9)
    ax_b.legend(fontsize=7)
    styles = {"softmax": "-", "quadratic": "--", "linear": ":"}
    for f in FORMS:
        ax_c.loglog(result["grid"], result["curves"][f], styles[f], color="black", label=f)
    ns, nk = result["crossover_softmax"].flops, result["crossover_kernel"].flops
    ax_c.axvline(ns, color="tab:orange", lw=1.5, label=f"n* vs softmax = {ns:.0f}")
    ax_c.axvline(nk, color="tab:orange", lw=1, ls="--", label=f"n* same phi = {nk:.0f}")
    ax_c.axvline(result["n"], color="0.5", lw=1, ls="-.", label=f"n = {result['n']}")
    plain_log_ticks(ax_c)
    ax_c.set_xlabel("sequence length n")
    ax_c.set_ylabel("FLOPs")
    ax_c.set_title("FLOPs of the three forms; linear wins right of n*", fontsize=9)
    ax_c.legend(fontsize=7, loc="upper left")
    few_ticks(fig)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.2, top=0.9, wspace=0.25)
    return fig
