"""Notebook 05 panel: how large are FAVOR+'s errors, and where do the bounds sit?

Sliders m, d, R (every query and key has norm R), causal -> over `reps` independent projections:
the largest entry error of the kernel matrix exp(q k^T / sqrt(d)) estimated with trigonometric and
positive features (what Theorem 4 bounds), and the relative error of performer_attention's output.
Vertical lines: the Hoeffding + union bound for trig features (iid draws, failure probability 1/2)
and Theorem 4's eps for this m with its unknown constant set to 1 (its scaling, not a value).
"""
import numpy as np

from . import hint, styled

from .. import numpy as lnp
from .. import theory

DEFAULTS = dict(m=64, d=16, R=2.0, causal=False, n=64, reps=20, seed=0)
FIGSIZE = (10, 4.4)


def controls():
    import ipywidgets as w
    wide = {"description_width": "initial"}
    slow = dict(continuous_update=False, style=wide)     # 20 projections per setting: recomputed on release
    return {
        "m": hint(w.IntSlider(value=64, min=8, max=512, step=8, description="features m", **slow),
                  "m: random features; recomputed when the slider is released"),
        "d": w.IntSlider(value=16, min=4, max=64, step=4, description="head dim d", **slow),
        "R": hint(w.FloatSlider(value=2.0, min=0.5, max=4.0, step=0.25, description="norm R", **slow),
                  "R: |q| = |k| = R for every query and key"),
        "causal": w.Checkbox(value=False, description="causal"),
    }


def log_ticks(axis):
    """Readable log-axis ticks at any range: <= 5 labels at 1, 2, 5 x 10^k, plain numbers, no minor labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=5))
    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))      # plain text: no mathtext cost
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def sphere_rows(n, d, R, rng):
    """(n, d) rows uniformly distributed on the sphere of radius R."""
    x = rng.standard_normal((n, d))
    return R * x / np.linalg.norm(x, axis=1, keepdims=True)


def compute(m=64, d=16, R=2.0, causal=False, n=64, reps=20, seed=0):
    rng = np.random.default_rng(seed)
    q, k = sphere_rows(n, d, R, rng), sphere_rows(n, d, R, rng)
    v = rng.standard_normal((n, 4))
    c = d ** -0.25
    K = np.exp(q @ k.T / np.sqrt(d))                                   # (n, n) exact kernel matrix
    mask = np.tril(np.ones((n, n), dtype=bool)) if causal else np.ones((n, n), dtype=bool)
    exact = lnp.softmax_attention(q, k, v, causal=causal)
    err = {"trig": np.empty(reps), "positive": np.empty(reps)}
    out_err = np.empty(reps)
    for r in range(reps):
        w = lnp.gaussian_projection(m, d, seed=seed + 1 + r)              # iid: Hoeffding needs independence
        for kind, f in (("trig", lnp.trig_features), ("positive", lnp.positive_features)):
            K_hat = f(q * c, w) @ f(k * c, w).T                         # (n, n)
            err[kind][r] = np.abs(K_hat - K)[mask].max()
        est = lnp.performer_attention(q, k, v, w, causal=causal)
        out_err[r] = np.linalg.norm(est - exact) / np.linalg.norm(exact)
    h2 = float(np.exp(R ** 2 / np.sqrt(d)))                             # h*^2 = max_ij exp((|q'|^2+|k'|^2)/2)
    n_entries = int(mask.sum())
    hoeffding = h2 * np.sqrt(2.0 * np.log(4.0 * n_entries) / m)       # n_entries * 2 exp(-m t^2/(2 h*^4)) = 1/2
    return {"kernel_max_err": err, "out_rel_err": out_err, "hoeffding_union": float(hoeffding),
            "theorem4_eps": theory.theorem4_eps(m, d, R), "h_star_sq": h2, "kernel_max": float(K[mask].max()),
            "m": m, "d": d, "R": R, "causal": causal}


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    errs = result["kernel_max_err"]
    allv = np.concatenate([errs["trig"], errs["positive"], [result["hoeffding_union"], result["theorem4_eps"]]])
    bins = np.logspace(np.log10(allv.min()) - 0.1, np.log10(allv.max()) + 0.1, 40)
    ax1.hist(errs["trig"], bins=bins, histtype="step", color="k", ls="-", label="trig features")
    ax1.hist(errs["positive"], bins=bins, histtype="step", color="k", ls="--", label="positive features")
    ax1.axvline(result["hoeffding_union"], color="tab:red", ls="-", lw=1.5, label="Hoeffding + union (trig, p = 1/2)")
    ax1.axvline(result["theorem4_eps"], color="tab:blue", ls=":", lw=2, label="Thm 4 ε, constant 1")
    ax1.set_xscale("log")
    log_ticks(ax1.xaxis)
    ax1.set_xlabel("max_ij |K̂_ij − K_ij|,  K_ij = exp(q_i·k_j/√d)")
    ax1.set_ylabel("projections")
    ax1.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, columnspacing=0.8,
               handlelength=1.4)                            # above the axes, never over a bar
    ax2.hist(result["out_rel_err"], bins=20, histtype="step", color="k")
    ax2.set_xlabel("‖performer − softmax‖ / ‖softmax‖")
    ax2.set_ylabel("projections")
    ax2.set_title(("causal" if result["causal"] else "bidirectional") + ", positive features, iid")
    fig.suptitle(f"{len(errs['trig'])} projections, m = {result['m']}, d = {result['d']}, R = {result['R']:g}: "
                 f"max K = {result['kernel_max']:.3g}", x=0.01, ha="left")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.74, wspace=0.25)
    return fig
