"""Notebook 02 panel: FLOPs and memory of the two multiplication orders, and where they cross.

Sliders n, d, m, d_v (and whether phi's own cost is counted) -> bars of the cost model
``linattn_edu.costs`` at n for

    softmax      exp(Q K^T / sqrt(d)) V'       (similarity width d; starts from Q, K)
    quadratic    (phi(Q) phi(K)^T) V'         (the same phi as below, width m)
    linear       phi(Q) (phi(K)^T V')          (reassociated)

and the FLOP or memory curves over n on log-log axes with their crossover lengths n* marked. With
"phi counted", phi = positive random features (the map whose width m is free) and both phi forms pay
``costs.feature_map_cost`` (projection FLOPs; phi(Q), phi(K) held in memory), as in
``costs.crossover_length(..., features=...)``.
"""
import numpy as np

from . import hint, styled
from .. import costs
from .nb01_kernel_smoother import few_ticks

FIGSIZE = (10, 4.4)
DEFAULTS = dict(n=512, d=64, m=64, d_v=64, features="positive_features", measure="flops")

FORMS = ("softmax", "quadratic", "linear")
MEASURES = {"flops": "FLOPs", "memory": "memory (floats)"}
SAME = 1.15            # two n* closer than this factor are drawn as one line


def controls():
    import ipywidgets as w
    wide = {"description_width": "initial"}
    return {
        "n": hint(w.SelectionSlider(options=[2 ** i for i in range(4, 17)], value=512, description="length n",
                                    style=wide), "sequence length, tokens"),
        "d": w.IntSlider(value=64, min=8, max=256, step=8, description="q·k width d", style=wide),
        "m": hint(w.IntSlider(value=64, min=8, max=1024, step=8, description="features m", style=wide),
                  "m: width of φ(q)"),
        "d_v": w.IntSlider(value=64, min=8, max=256, step=8, description="value width d_v", style=wide),
        "features": w.Dropdown(options=[("φ's cost counted (positive random features)", "positive_features"),
                                        ("φ(Q), φ(K) given for free", None)],
                               value="positive_features", description="feature map", style=wide),
        "measure": w.ToggleButtons(options=[("FLOPs", "flops"), ("memory", "memory")], value="flops",
                                   description="curves", style={"button_width": "90px"}),
    }


def plain_log_ticks(ax):
    """Log-axis tick labels as plain text (1e4 at the powers of ten), no minor ticks: mathtext labels cost ~30 ms a redraw."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10, numticks=6))
        axis.set_major_formatter(FuncFormatter(lambda x, _: f"1e{np.log10(x):.0f}" if x > 0 else "0"))
        axis.set_minor_locator(NullLocator())


def _costs(n, d, m, d_v, features):
    return {"softmax": costs.quadratic_attention_cost(n, d, d_v=d_v),
            "quadratic": costs.quadratic_attention_cost(n, d, m=m, d_v=d_v, features=features),
            "linear": costs.linear_attention_cost(n, m, d_v, features=features, d=d)}


def compute(n=512, d=64, m=64, d_v=64, features="positive_features", measure="flops"):
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {tuple(MEASURES)} (got {measure!r})")
    at_n = _costs(n, d, m, d_v, features)
    grid = np.unique(np.geomspace(8, 2 ** 16, 40).astype(int))              # lengths for the curves
    table = [_costs(int(x), d, m, d_v, features) for x in grid]
    curves = {key: {f: np.array([c[f]._asdict()[key] for c in table], dtype=float) for f in FORMS}
              for key in MEASURES}
    return {"n": n, "d": d, "m": m, "d_v": d_v, "features": features, "measure": measure,
            "flops": {f: at_n[f].flops for f in FORMS}, "memory": {f: at_n[f].memory for f in FORMS},
            "crossover_softmax": costs.crossover_length(d, m, d_v, baseline="softmax", features=features),
            "crossover_kernel": costs.crossover_length(d, m, d_v, baseline="kernel"),
            "grid": grid, "curves": curves}


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_b, ax_c = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})
    shades = {"softmax": "0.15", "quadratic": "0.55", "linear": "0.92"}
    width = 0.26
    top = 0.0
    for i, f in enumerate(FORMS):                         # bars relative to softmax = 1
        rel = [result[key][f] / result[key]["softmax"] for key in ("flops", "memory")]
        top = max(top, *rel)
        xs = np.arange(2) + (i - 1) * width
        ax_b.bar(xs, rel, width, color=shades[f], edgecolor="black", label=f)
        for x, r in zip(xs, rel):
            ax_b.text(x, r, f"{r:.2g}", ha="center", va="bottom")
    ax_b.set_ylim(0, 1.18 * top)                          # room for the numbers above the bars
    ax_b.set_xticks([0, 1], [f"FLOPs\n(softmax {result['flops']['softmax']:.1e})",
                             f"memory\n(softmax {result['memory']['softmax']:.1e})"])
    ax_b.set_ylabel("cost / softmax's")
    ax_b.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, columnspacing=0.8,
                handlelength=1.0)                          # above the axes: never over a bar
    key = result["measure"]
    styles = {"softmax": "-", "quadratic": "--", "linear": ":"}
    for f in FORMS:
        ax_c.loglog(result["grid"], result["curves"][key][f], styles[f], color="black", lw=1.6, label=f)
    ns, nk = result["crossover_softmax"]._asdict()[key], result["crossover_kernel"]._asdict()[key]
    if max(ns, nk) / min(ns, nk) < SAME:                    # one line for two (near) equal lengths
        ax_c.axvline(ns, color="tab:orange", lw=2, label=f"n* ≈ {ns:.0f} (both)")
    else:
        ax_c.axvline(ns, color="tab:orange", lw=2, label=f"n* vs softmax {ns:.0f}")
        ax_c.axvline(nk, color="tab:orange", lw=1.5, ls="--", label=f"n* same φ {nk:.0f}")
    ax_c.axvline(result["n"], color="0.5", lw=1.2, ls="-.", label=f"n = {result['n']}")
    plain_log_ticks(ax_c)
    ax_c.set_xlabel("sequence length n")
    ax_c.set_ylabel(MEASURES[key])
    ax_c.legend(loc="lower center", bbox_to_anchor=(0.45, 1.0), ncol=3, frameon=False, columnspacing=0.6,
                handlelength=1.4, handletextpad=0.4)                          # above the axes: never over a curve
    phi = "φ's cost counted" if result["features"] else "φ free"
    fig.suptitle(f"d = {result['d']}, m = {result['m']}, d_v = {result['d_v']}, n = {result['n']}, {phi}; "
                 f"linear attention is cheaper right of n*", x=0.01, ha="left")
    few_ticks(fig)
    fig.subplots_adjust(left=0.075, right=0.97, bottom=0.2, top=0.76, wspace=0.28)
    return fig
