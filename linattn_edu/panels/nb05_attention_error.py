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


# Both histograms on log axes fixed over every setting of the controls (m 8..512, d 4..64, R 0.5..4, causal),
# so a move blits and a student sees the errors travel (R right, m left) instead of the axes rescaling:
KERNEL_DECADES = (-3, 6)      # kernel errors and both bounds: 0.006 .. 1.3e5 over the whole range
OUT_DECADES = (-3, 1)         # output relative errors: 0.003 .. 2.8
BINS_PER_DECADE = 10
KERNEL_TICKS = {1e-3: "0.001", 1e-1: "0.1", 1e1: "10", 1e3: "1000", 1e5: "10⁵"}   # every other decade labelled
OUT_TICKS = {1e-3: "0.001", 1e-2: "0.01", 1e-1: "0.1", 1.0: "1", 1e1: "10"}


def decade_ticks(axis, labels, decades):
    """Fixed log ticks: a labelled major tick at each key of `labels`, a minor tick at every decade."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter
    axis.set_major_locator(FixedLocator(list(labels)))
    axis.set_major_formatter(FixedFormatter(list(labels.values())))
    axis.set_minor_locator(FixedLocator(10.0 ** np.arange(decades[0], decades[1] + 1)))
    axis.set_minor_formatter(NullFormatter())


def _bins(decades):
    lo, hi = decades
    return np.logspace(lo, hi, BINS_PER_DECADE * (hi - lo) + 1)


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    reps = len(result["out_rel_err"])                  # no bin holds more than every projection
    bins, out_bins = _bins(KERNEL_DECADES), _bins(OUT_DECADES)
    zeros = np.zeros(bins.size - 1)
    trig = ax1.stairs(zeros, bins, color="k", ls="-", label="trig features")
    positive = ax1.stairs(zeros, bins, color="k", ls="--", label="positive features")
    hoeffding = ax1.axvline(1.0, color="tab:red", ls="-", lw=1.5, label="Hoeffding + union (trig, p = 1/2)")
    theorem4 = ax1.axvline(1.0, color="tab:blue", ls=":", lw=2, label="Thm 4 ε, constant 1")
    out = ax2.stairs(np.zeros(out_bins.size - 1), out_bins, color="k")
    for ax, decades, ticks in ((ax1, KERNEL_DECADES, KERNEL_TICKS), (ax2, OUT_DECADES, OUT_TICKS)):
        ax.set_xscale("log")
        decade_ticks(ax.xaxis, ticks, decades)
        ax.set_xlim(10.0 ** decades[0], 10.0 ** decades[1])
        ax.set_ylim(0, 1.05 * reps)
        ax.set_ylabel("projections")
    ax1.set_xlabel("max_ij |K̂_ij − K_ij|,  K_ij = exp(q_i·k_j/√d)")
    ax1.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, columnspacing=0.8,
               handlelength=1.4)                            # above the axes, never over a bar
    ax2.set_xlabel("‖performer − softmax‖ / ‖softmax‖")
    title2 = ax2.set_title("")
    title = fig.suptitle("", x=0.01, ha="left")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.74, wspace=0.25)
    fig._linattn = dict(reps=reps, bins=(bins, out_bins), hists=(trig, positive, out),
                        bounds=(hoeffding, theorem4), titles=(title2, title))
    update(fig, result)
    return fig


def update(fig, result):
    """New counts in the same histograms, bounds and titles (the axes are fixed); False if reps changed."""
    a = getattr(fig, "_linattn", None)
    if a is None or a["reps"] != len(result["out_rel_err"]):
        return False
    errs = result["kernel_max_err"]
    bins, out_bins = a["bins"]
    trig, positive, out = a["hists"]
    trig.set_data(np.histogram(errs["trig"], bins)[0], bins)      # values outside the frame are not counted
    positive.set_data(np.histogram(errs["positive"], bins)[0], bins)
    out.set_data(np.histogram(result["out_rel_err"], out_bins)[0], out_bins)
    hoeffding, theorem4 = a["bounds"]
    hoeffding.set_xdata([result["hoeffding_union"]] * 2)
    theorem4.set_xdata([result["theorem4_eps"]] * 2)
    title2, title = a["titles"]
    title2.set_text(("causal" if result["causal"] else "bidirectional") + ", positive features, iid")
    title.set_text(f"{len(errs['trig'])} projections, m = {result['m']}, d = {result['d']}, R = {result['R']:g}: "
                   f"max K = {result['kernel_max']:.3g}")
    return [trig, positive, hoeffding, theorem4, out, title2, title]
