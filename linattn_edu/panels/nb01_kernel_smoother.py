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

from . import hint, panel_style

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


def draw(result, fig=None):
    import matplotlib.pyplot as plt
    with panel_style():
        if fig is None:
            fig = plt.figure(figsize=FIGSIZE)
        fig.clear()
        ax_h, ax_r = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1.4]})
        A, W, i, n = result["A"], result["W"], result["row"], result["n"]
        name = READABLE.get(result["feature_map"], result["feature_map"])
        vmax = max(A.max(), W.max())
        gap = max(1, n // 8)
        both = np.full((n, 2 * n + gap), np.nan)                 # [A | gap | W] in one image: one axes, not two
        both[:, :n], both[:, n + gap:] = A, W
        cmap = plt.get_cmap("Greys").with_extremes(bad="white")   # the NaN gap column stays white
        ax_h.imshow(both, cmap=cmap, vmin=0, vmax=vmax)          # one grey scale: white 0, black vmax
        ax_h.axhline(i, color="tab:orange", lw=1.5, ls="--")
        empty = f" ({result['empty_rows']} rows all 0)" if result["empty_rows"] else ""
        ax_h.set_title(f"softmax (τ = {result['temperature']:g})  |  {name}{empty}")
        ax_h.set_xlabel("key j")
        ax_h.set_ylabel("query i")
        j = np.arange(n)
        ax_r.plot(j, A[i], "o-", color="black", ms=4, label="softmax")
        ax_r.plot(j, W[i], "s--", color="tab:orange", ms=4, mfc="none", label=name)
        ax_r.set_title(f"row {i}: TV = {result['tv'][i]:.3f} (mean {result['tv'].mean():.3f})")
        ax_r.set_xlabel("key j")
        ax_r.set_ylabel("weight of key j")
        ax_r.set_ylim(0, 1.45 * max(A[i].max(), W[i].max(), 1e-12))      # the top third is the legend's
        ax_r.legend(loc="upper center", ncol=2, columnspacing=0.8, handlelength=1.6)
        few_ticks(fig)
        ax_h.set_xticks([0, n - 1, n + gap, 2 * n + gap - 1], ["0", str(n - 1), "0", str(n - 1)])   # after few_ticks
        fig.suptitle(f"attention weights, white = 0, black = {vmax:.2f}; dashed: row i, drawn on the right")
        fig.subplots_adjust(left=0.06, right=0.985, bottom=0.14, top=0.84, wspace=0.22)
    return fig
