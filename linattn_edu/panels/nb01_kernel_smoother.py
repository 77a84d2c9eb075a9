"""Notebook 01 panel: softmax weights next to the weights a feature map phi gives.

Sliders: feature map, temperature tau, n, row -> two n x n heatmaps of attention weights

    softmax:      A_ij = exp(q_i . k_j / tau) / sum_l exp(q_i . k_l / tau)
    feature map:  W_ij = phi(q_i') . phi(k_j') / sum_l phi(q_i') . phi(k_l'),   q' = q / sqrt(tau), k' = k / sqrt(tau)

(so that phi(q') . phi(k') ~ exp(q . k / tau) for the Taylor and random maps), and one row of each
side by side, with the total-variation distance TV_i = 1/2 sum_j |A_ij - W_ij| per row.

Both matrices come from the library: A from ``attention_weights(q, k, scale=1/tau)``, W from
``kernel_attention(q', k', I_n, phi)`` (with V = I_n, the output of attention *is* its weight matrix).
"""
import functools

import numpy as np

from .. import numpy as lnp

from . import TEXT_PT, hint, nice_limit, panel_style

FEATURE_MAPS = ("elu_plus_one", "relu_features", "taylor_features", "positive_random")
READABLE = {"elu_plus_one": "elu(x) + 1", "relu_features": "ReLU", "taylor_features": "Taylor (2nd order)",
            "positive_random": "positive random features"}
TEMPERATURES = (0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 20.0)
FIGSIZE = (10, 4.0)

DEFAULTS = dict(feature_map="taylor_features", temperature=2.0, n=24, row=12, d=4, m_random=64, seed=0)


def make_qk(n, d, seed=0):
    """The panel's queries and keys: (n, d) each, entries N(0, 1), fixed seed."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, d))


def phi_for(name, d, m_random=64, seed=0):
    """The library feature map called `name`; "positive_random" = positive random features with m_random draws."""
    if name not in FEATURE_MAPS:
        raise ValueError(f"feature_map must be one of {FEATURE_MAPS} (got {name!r})")
    if name == "positive_random":
        w = lnp.gaussian_projection(m_random, d, seed=seed + 1)                # (m, d)
        return functools.partial(lnp.positive_features, w=w)
    return name


def controls():
    """Feature map, temperature tau (exact values, no log-slider rounding), n, and the row (0 .. n - 1)."""
    import ipywidgets as w
    wide = {"description_width": "initial"}
    fmap = w.Dropdown(options=[(READABLE[f], f) for f in FEATURE_MAPS], value="taylor_features",
                      description="feature map φ", style=wide)
    tau = hint(w.SelectionSlider(options=TEMPERATURES, value=2.0, description="temperature τ", style=wide),
               "τ divides q·k: small τ = peaked softmax, large τ = flat")
    n = w.IntSlider(value=24, min=4, max=64, step=4, description="tokens n", style=wide)
    row = hint(w.IntSlider(value=12, min=0, max=23, description="query row i", style=wide),
               "the row plotted on the right (0 .. n − 1)")

    def keep_row_inside(change):
        row.max = change["new"] - 1            # ipywidgets clamps row.value to the new range
    n.observe(keep_row_inside, names="value")
    return {"feature_map": fmap, "temperature": tau, "n": n, "row": row}


def compute(feature_map="taylor_features", temperature=2.0, n=24, row=12, d=4, m_random=64, seed=0):
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (got temperature = {temperature!r})")
    q, k = make_qk(n, d, seed)
    A = lnp.attention_weights(q, k, scale=1.0 / temperature)                  # (n, n), rows sum to 1
    phi = phi_for(feature_map, d, m_random, seed)
    s = temperature ** -0.5
    W = lnp.kernel_attention(q * s, k * s, np.eye(n), phi)                    # (n, n): weights, V = I
    tv = 0.5 * np.abs(A - W).sum(axis=1)                                      # (n,)
    row = int(min(max(row, 0), n - 1))
    empty_rows = int(np.sum(W.sum(axis=1) == 0))            # relu: phi(q_i) = 0, no similarity mass
    return {"A": A, "W": W, "tv": tv, "row": row, "feature_map": feature_map, "empty_rows": empty_rows,
            "temperature": float(temperature), "n": n}


def few_ticks(fig, nbins=4):
    """At most ~nbins ticks on every linear axis: each tick is an object built on every redraw."""
    from matplotlib.ticker import MaxNLocator
    for ax in fig.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "linear":
                axis.set_major_locator(MaxNLocator(nbins, integer=False))


GAP = 0.125          # white gap between the two heatmaps, in units of one heatmap's width


def _row_top(vmax):
    """y limit of the row plot: 1.45 x the largest weight in either matrix, the heatmaps' black (the top third
    is the legend's), rounded up to 1, 1.5, 2, 3 or 5 x 10^k (nice_limit); at most 1.5, as no weight
    exceeds 1 (the weights of a row are >= 0 and sum to 1). Every row of a setting is drawn to this one scale,
    as the heatmaps draw every row to one grey scale: moving the row slider compares rows and never moves the
    axis (before, with a limit per row, 3 of 5 row moves redrew the background: 44-54 ms against 26 ms for a
    blit, one walk, measured 2-core VM 2026-12-03)."""
    return min(nice_limit(1.45 * max(float(vmax), 1e-12), steps=(1, 1.5, 2, 3, 5)), 1.5)


def draw(result, fig=None):
    """Both heatmaps and the row plot live on unit squares (key j at x = (j + 1/2) / n), whatever n is: the
    axes never move with n, and the first and last index are text labels where the end ticks would be."""
    import matplotlib.pyplot as plt
    with panel_style():
        if fig is None:
            fig = plt.figure(figsize=FIGSIZE)
        fig.clear()
        ax_h, ax_r = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1.4]})
        unit = (0, 1, 1, 0)                                             # (left, right, bottom, top)
        images = [ax_h.imshow(np.zeros((1, 1)), cmap="Greys", vmin=0, vmax=1, extent=(x0, x0 + 1, 1, 0))
                  for x0 in (0.0, 1.0 + GAP)]                           # softmax A | gap | feature map W
        row_line = ax_h.axhline(0.5, color="tab:orange", lw=1.5, ls="--")
        ax_h.set_xlim(0, 2 + GAP)
        ax_h.set_ylim(1, 0)
        title_h = ax_h.set_title("")
        pad = dict(labelpad=1.25 * TEXT_PT + 4)                       # below the end labels
        ax_h.set_xlabel("key j", **pad)
        ax_h.set_ylabel("query i", labelpad=1.3 * TEXT_PT + 4)         # left of the end labels
        line_a, = ax_r.plot([], [], "o-", color="black", ms=4, label="softmax")
        line_w, = ax_r.plot([], [], "s--", color="tab:orange", ms=4, mfc="none", label="φ")
        ax_r.set_xlim(*unit[:2])
        title_r = ax_r.set_title("")
        ax_r.set_xlabel("key j", **pad)
        ax_r.set_ylabel("weight of key j")
        legend = ax_r.legend(loc="upper right", handlelength=1.6)     # one column: the longest name fits
        few_ticks(fig)
        for ax in (ax_h, ax_r):
            ax.set_xticks([])                                           # after few_ticks: the end labels
        ax_h.set_yticks([])
        below = dict(ha="center", va="top")
        x_ends = [ax_h.text(0, -0.02, "0", transform=ax_h.get_xaxis_transform(), **below)
                  for _ in range(4)] + [ax_r.text(0, -0.02, "0", transform=ax_r.get_xaxis_transform(), **below)
                                        for _ in range(2)]
        y_ends = [ax_h.text(-0.01, 0, "0", ha="right", va="center", transform=ax_h.get_yaxis_transform())
                  for _ in range(2)]
        suptitle = fig.suptitle("")
        fig.subplots_adjust(left=0.06, right=0.985, bottom=0.14, top=0.84, wspace=0.22)
        fig._linattn = dict(n=None, images=images, row_line=row_line, title_h=title_h, lines=(line_a, line_w),
                            ax_r=ax_r, title_r=title_r, legend=legend, x_ends=x_ends, y_ends=y_ends,
                            suptitle=suptitle, spines_h=tuple(ax_h.spines.values()), spines_r=tuple(ax_r.spines.values()))
        update(fig, result)
    return fig


def update(fig, result):
    """Any move, new data in the same artists (the axes are unit squares); only the row plot's y limit can
    change (_row_top: never with the row alone), and then the renderer redraws the background. False for a
    figure draw() did not make."""
    a = getattr(fig, "_linattn", None)
    if a is None:
        return False
    A, W, i, n = result["A"], result["W"], result["row"], result["n"]
    name = READABLE.get(result["feature_map"], result["feature_map"])
    vmax = max(A.max(), W.max())
    for image, M in zip(a["images"], (A, W)):                          # one grey scale: white 0, black vmax
        image.set_data(M)
        image.set_clim(0, vmax)
    centre = (np.arange(n) + 0.5) / n                                   # (n,) key j's x (and query i's y)
    a["row_line"].set_ydata([centre[i]] * 2)
    empty = f" ({result['empty_rows']} rows all 0)" if result["empty_rows"] else ""
    # the grey scale's top is in this title, not in the figure's: the long title then never changes (a new
    # string is laid out glyph by glyph, ~0.05 ms a character)
    a["title_h"].set_text(f"softmax (τ = {result['temperature']:g})  |  {name}{empty};  black = {vmax:.2f}")
    line_a, line_w = a["lines"]
    line_a.set_data(centre, A[i])
    line_w.set_data(centre, W[i])
    a["ax_r"].set_ylim(0, _row_top(vmax))
    a["title_r"].set_text(f"row {i}: TV = {result['tv'][i]:.3f} (mean {result['tv'].mean():.3f})")
    a["legend"].get_texts()[1].set_text(name)
    for text, x in zip(a["x_ends"], (centre[0], centre[-1], 1 + GAP + centre[0], 1 + GAP + centre[-1],
                                     centre[0], centre[-1])):
        text.set_x(x)
    for text in a["x_ends"][1::2]:
        text.set_text(str(n - 1))
    top, bottom = a["y_ends"]
    top.set_y(centre[0])
    bottom.set_y(centre[-1])
    bottom.set_text(str(n - 1))
    a["suptitle"].set_text("attention weights, white = 0; dashed: row i, drawn on the right")
    # in z-order: an axes' frame over its images and lines, the legend over the lines
    return [*a["images"], a["row_line"], *a["spines_h"], a["title_h"], line_a, line_w, *a["spines_r"], a["title_r"],
            a["legend"],
            *a["x_ends"], *a["y_ends"], a["suptitle"]]
