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

from . import TEXT_PT, decade_limits, hint, nice_limit, styled
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


def _bar_top(top):
    """y limit of the bars: 1.18 x the largest relative cost (room for the numbers above the bars), rounded up to
    1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 x 10^k, and never below 1.5 (the default's), so most moves keep the axes
    and blit (softmax is 1, and the other forms' costs near 1 at long n no longer shrink the axis)."""
    return nice_limit(max(1.18 * top, 1.5), steps=(1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8))


def _merged(result):
    """Whether the two crossover lengths n* are drawn as one line (closer than a factor SAME)."""
    key = result["measure"]
    ns, nk = result["crossover_softmax"]._asdict()[key], result["crossover_kernel"]._asdict()[key]
    return max(ns, nk) / min(ns, nk) < SAME


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax_b, ax_c = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})
    shades = {"softmax": "0.15", "quadratic": "0.55", "linear": "0.92"}
    width = 0.26
    bars, numbers = [], []
    for i, f in enumerate(FORMS):                         # bars relative to softmax = 1, heights set by update()
        xs = np.arange(2) + (i - 1) * width
        bars += list(ax_b.bar(xs, [1.0, 1.0], width, color=shades[f], edgecolor="black", label=f))
        numbers += [ax_b.text(x, 1.0, "", ha="center", va="bottom") for x in xs]
    ax_b.set_xlim(-0.5, 1.5)
    ax_b.set_xticks([0, 1], ["FLOPs", "memory"])
    # the absolute softmax costs change with every move: a text under each tick label, not a tick label
    absolute = [ax_b.annotate("", (x, 0), xycoords=ax_b.get_xaxis_transform(), xytext=(0, -7 - 1.25 * TEXT_PT),
                              textcoords="offset points", ha="center", va="top") for x in (0, 1)]
    ax_b.set_ylabel("cost / softmax's")
    ax_b.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, columnspacing=0.8,
                handlelength=1.0)                            # above the axes: never over a bar; never changes
    key = result["measure"]
    styles = {"softmax": "-", "quadratic": "--", "linear": ":"}
    curves = [ax_c.loglog(result["grid"], result["curves"][key][f], styles[f], color="black", lw=1.6, label=f)[0]
              for f in FORMS]
    stars = [ax_c.axvline(1, color="tab:orange", lw=2, label="n* vs softmax"),       # one line when the two
             ax_c.axvline(1, color="tab:orange", lw=1.5, ls="--", label="n* same φ")]   # (near) coincide
    now = ax_c.axvline(1, color="0.5", lw=1.2, ls="-.", label="chosen n")
    span = np.log10(result["grid"][-1] / result["grid"][0])
    ax_c.set_xlim(result["grid"][0] / 10 ** (0.05 * span), result["grid"][-1] * 10 ** (0.05 * span))
    plain_log_ticks(ax_c)
    ax_c.set_xlabel("sequence length n (linear is cheaper right of n*)")
    ax_c.set_ylabel(MEASURES[key])
    # two legends above the axes (never over a curve): the forms' curves on the top row, the n* and n lines
    # on the row below. Neither changes (n*'s values are in the title): a changed legend is laid out again on
    # every move (~10 ms), a pasted one costs nothing
    from matplotlib.transforms import offset_copy
    row = offset_copy(ax_c.transAxes, fig=fig, y=1.28 * TEXT_PT, units="points")   # one row: text + spacing
    style = dict(loc="lower center", bbox_to_anchor=(0.45, 1.0), ncol=3, frameon=False, columnspacing=0.6,
                 handlelength=1.4, handletextpad=0.4)
    ax_c.add_artist(ax_c.legend(handles=curves, bbox_transform=row, **style))
    legend_c = ax_c.legend(handles=[*stars, now], **style)
    suptitle = fig.suptitle("", x=0.01, ha="left")              # the settings and n*; they change with the sliders
    few_ticks(fig)
    ax_b.set_xticks([0, 1], ["FLOPs", "memory"])          # after few_ticks: the two groups of bars
    fig.subplots_adjust(left=0.075, right=0.97, bottom=0.2, top=0.76, wspace=0.28)
    fig._linattn = dict(ax_b=ax_b, ax_c=ax_c, bars=bars, numbers=numbers,
                        absolute=absolute, curves=curves, stars=stars, now=now, legend_c=legend_c,
                        suptitle=suptitle, spines=(*ax_b.spines.values(), *ax_c.spines.values()))
    update(fig, result)
    return fig


def update(fig, result):
    """New costs in the same artists. The bars' y limit is snapped (_bar_top), the curves' to whole decades
    (decade_limits), the lengths axis is fixed: most moves blit; the measure (FLOPs / memory) brings new curves,
    y label and limits (one full Agg draw, no rebuild). Two n* closer than a factor SAME are one line: the second
    line and its legend entry are hidden."""
    a = getattr(fig, "_linattn", None)
    if a is None:
        return False
    key = result["measure"]
    relabelled = a.get("measure") != key                   # another y label: it is drawn with the axes
    a["measure"] = key
    a["ax_c"].yaxis.label.set_text(MEASURES[key])
    old_ylim = a["ax_c"].get_ylim()
    rel = {f: [result[k][f] / result[k]["softmax"] for k in ("flops", "memory")] for f in FORMS}
    for bar, text, r in zip(a["bars"], a["numbers"], [r for f in FORMS for r in rel[f]]):
        bar.set_height(r)
        text.set_y(r)
        text.set_text(f"{r:.2g}")
    a["ax_b"].set_ylim(0, _bar_top(max(max(v) for v in rel.values())))
    for text, k in zip(a["absolute"], ("flops", "memory")):
        text.set_text(f"(softmax {result[k]['softmax']:.1e})")
    for line, f in zip(a["curves"], FORMS):
        line.set_ydata(result["curves"][key][f])
    curves = np.concatenate([result["curves"][key][f] for f in FORMS])
    a["ax_c"].set_ylim(*decade_limits(curves.min(), curves.max()))
    ns, nk = result["crossover_softmax"]._asdict()[key], result["crossover_kernel"]._asdict()[key]
    labels = a["legend_c"].get_texts()                     # n* (one or two), n
    merged = _merged(result)
    a["stars"][0].set_xdata([ns] * 2)
    a["stars"][1].set_xdata([nk] * 2)
    labels[0].set_text("n* (both)" if merged else "n* vs softmax")
    for hidden in (a["stars"][1], labels[1], a["legend_c"].legend_handles[1]):
        hidden.set_visible(not merged)
    a["now"].set_xdata([result["n"]] * 2)
    phi = "φ's cost counted" if result["features"] else "φ free"
    star = f"n* ≈ {ns:.0f} (both)" if merged else f"n* = {ns:.0f} vs softmax, {nk:.0f} same φ"
    a["suptitle"].set_text(f"d = {result['d']}, m = {result['m']}, d_v = {result['d_v']}, {phi}: {star}")   # n: the slider's
    if relabelled and a["ax_c"].get_ylim() == old_ylim:
        return True                                        # the kept background has the old y label: draw it all
    # in z-order: bars, then the numbers over them, the frames over bars and lines, the legend
    return [*a["bars"], *a["numbers"], *a["absolute"], *a["curves"], *a["stars"], a["now"], *a["spines"],
            a["legend_c"], a["suptitle"]]
