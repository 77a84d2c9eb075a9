"""Notebook 04 panel: the three random-feature estimators of SM(x, y) = exp(x . y), sampled and exact.

Sliders |x|, |y|, angle, m, iid/orthogonal -> histograms of the estimates (one per independent
projection w) and their Monte-Carlo MSE next to Lemma 2 (``linattn_edu.theory``).

``sample_kernel_estimates`` is also what notebook 04 and tests/test_theory.py use to sample the
estimators: it calls the library's feature maps, never a re-implementation.
"""
import functools

import numpy as np

from . import axis_ticks, hint, nice_limit, styled

from .. import numpy as lnp
from .. import theory

KINDS = ("trig", "positive", "hyperbolic")
_FEATURES = {"trig": lnp.trig_features, "positive": lnp.positive_features, "hyperbolic": lnp.hyperbolic_features}

DEFAULTS = dict(norm_x=1.0, norm_y=1.0, angle=1.0, m=16, orthogonal=False, d=16, reps=1000, seed=0)
FIGSIZE = (10, 4.4)


def controls():
    import ipywidgets as w
    wide = {"description_width": "initial"}
    return {
        "norm_x": w.FloatSlider(value=1.0, min=0.1, max=2.0, step=0.1, description="|x|", style=wide),
        "norm_y": w.FloatSlider(value=1.0, min=0.1, max=2.0, step=0.1, description="|y|", style=wide),
        "angle": hint(w.FloatSlider(value=1.0, min=0.0, max=3.14, step=0.05, description="angle (rad)",
                                    style=wide), "angle between x and y in radians: 0 = same direction, 3.14 ≈ opposite"),
        "m": hint(w.IntSlider(value=16, min=1, max=64, description="draws m", continuous_update=False, style=wide),
                  "m: random projections per estimate (d = 16); recomputed on release"),
        "orthogonal": w.Checkbox(value=False, description="orthogonal draws (m ≤ d)"),
    }


def draw_projections(m, d, reps, orthogonal=False, seed=0):
    """reps independent projections w: (m, d), as one (reps, m, d) array.

    orthogonal=True: each projection is the first m rows of its own ceil(m/d) blocks of
    ``gaussian_projection(..., orthogonal=True)``, so rows inside a projection are orthogonal (m <= d).
    """
    blocks = -(-m // d) if orthogonal else 1
    rows = blocks * d if orthogonal else m
    w = lnp.gaussian_projection(reps * rows, d, orthogonal=orthogonal, seed=seed)   # (reps*rows, d)
    return w.reshape(reps, rows, d)[:, :m]                                           # (reps, m, d)


@functools.lru_cache(maxsize=32)
def _projections(m, d, reps, orthogonal, seed):
    """draw_projections(...).reshape(reps * m, d), computed once per (m, d, reps, orthogonal, seed) and read-only:
    the |x|, |y| and angle sliders keep every w, so their moves only apply the feature maps."""
    w = draw_projections(m, d, reps, orthogonal, seed).reshape(reps * m, d)         # (reps*m, d)
    w.setflags(write=False)
    return w


def sample_kernel_estimates(x, y, m, kind, reps, orthogonal=False, seed=0):
    """reps independent estimates phi(x) . phi(y) of exp(x . y), each with its own w: (m, d).

    x, y: (d,). kind: "trig" | "positive" | "hyperbolic" (m draws; trig and hyperbolic give 2m
    coordinates). All reps are computed in one library call on the stacked (reps*m, d) projection:
    the library's 1/sqrt(reps*m) (or 1/sqrt(2 reps*m)) normalisation becomes the per-projection
    1/sqrt(m) after multiplying by sqrt(reps). Returns (reps,).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} (got {kind!r})")
    d = x.shape[-1]
    w = (draw_projections(m, d, reps, orthogonal, seed).reshape(reps * m, d) if seed is None   # fresh draws
         else _projections(m, d, reps, bool(orthogonal), seed))                       # (reps*m, d)
    fx = _FEATURES[kind](x, w) * np.sqrt(reps)                                       # (reps*m,) or (2*reps*m,)
    fy = _FEATURES[kind](y, w) * np.sqrt(reps)
    parts = 1 if kind == "positive" else 2
    prod = (fx * fy).reshape(parts, reps, m)                                         # (parts, reps, m)
    return prod.sum(axis=(0, 2))                                                     # (reps,)


def mc_mse(estimates, truth):
    """Monte-Carlo MSE of an estimator and its standard error: mean and std/sqrt(R) of (est - truth)^2."""
    sq = (np.asarray(estimates) - truth) ** 2
    return float(sq.mean()), float(sq.std(ddof=1) / np.sqrt(sq.size))


def compute(norm_x=1.0, norm_y=1.0, angle=1.0, m=16, orthogonal=False, d=16, reps=1000, seed=0):
    x, y = theory.vectors_at_angle(norm_x, norm_y, angle, d)
    sm = float(theory.softmax_kernel(x, y))
    formulas = {"trig": theory.mse_trig(x, y, m), "positive": theory.mse_positive(x, y, m),
                "hyperbolic": theory.mse_hyperbolic(x, y, m)}
    used_orthogonal = bool(orthogonal and m <= d)       # Theorem 2's orthogonal draws need m <= d; else iid
    res = {"sm": sm, "m": m, "orthogonal": used_orthogonal, "orthogonal_requested": bool(orthogonal),
           "estimates": {}, "mc_mse": {}, "mc_se": {},
           "formula_mse": {k: float(v) for k, v in formulas.items()}}
    for i, kind in enumerate(KINDS):
        est = sample_kernel_estimates(x, y, m, kind, reps, used_orthogonal, seed + i)
        res["estimates"][kind] = est
        res["mc_mse"][kind], res["mc_se"][kind] = mc_mse(est, sm)
    res["ortho_bound"] = float(theory.mse_orthogonal_bound(x, y, m)) if m <= d else float("nan")
    return res


HIST_BINS = 60


def _frames(result):
    """The axes a blit keeps: (estimate axis (lo, hi), MSE decades (lo, hi)).

    Estimates: from the 1st percentile of all three estimators (0 when it is positive, else a multiple of
    a tenth of the top) to panels.nice_limit(0.9 x their 99th percentile), so at most about 1.5 % of the
    estimates fall past the right edge; the densities are shown relative to the highest bin
    (axis 0..1.05). MSE: decades 10^(4j+1) from half the smallest point or formula to 1.5 x the highest
    point, formula, bound or upper error-bar end (log axis: the MSEs span 1e-32 (trig at angle 0) .. 1e10
    over the controls). Steps of four decades, not two, so that the MSEs' drift over a few slider steps
    (about 0.15 decade a step of |x| or |y|) seldom crosses a limit: a crossing re-draws the whole figure.
    Offset 1 so the default setting's (1e-3 .. 10) also holds its orthogonal draws: ticking "orthogonal" at
    the defaults blits."""
    ests = result["estimates"]
    lo = min(np.percentile(e, 1) for e in ests.values())
    hi = max(np.percentile(e, 99) for e in ests.values())
    top = nice_limit(0.9 * hi)                      # 0.9: the defaults' 9.5 sits mid-frame, not at an edge
    step = top / 10
    x = (float(np.floor(lo / step) * step) if lo < 0 else 0.0, top)
    mc = np.array([result["mc_mse"][k] for k in KINDS])
    values = [*mc, *(mc + 2 * np.array([result["mc_se"][k] for k in KINDS])), *result["formula_mse"].values()]
    if result["orthogonal"] and np.isfinite(result["ortho_bound"]):
        values.append(result["ortho_bound"])
    values = np.array(values)
    values = values[values > 0]
    if not values.size:
        return x, (-1, 1)
    low, high = np.log10(values.min() / 2), np.log10(values.max() * 1.5)
    return x, (4 * int(np.floor((low - 1) / 4)) + 1, 4 * int(np.ceil((high - 1) / 4)) + 1)


def _suptitle(result):
    """The value of SM is here, not in the legend: a legend that changes is laid out and drawn anew on
    every move (about 11 ms), a changed title about 3 ms."""
    return (f"{len(result['estimates']['trig'])} projections of m = {result['m']} draws each"
            + (" (orthogonal)" if result["orthogonal"]
               else " (iid: orthogonal needs m ≤ d = 16)" if result.get("orthogonal_requested") else " (iid)")
            + f"; SM(x, y) = {result['sm']:.3g}")


@styled
def draw(result, fig=None):
    """Artists built once; update() moves them. The estimate frame (_frames) moves with |x|, |y|, angle and m;
    so that those moves blit rather than redraw the figure, the left axes' x limits stay 0..1 and the estimates
    reach them through a transform (``frame``: [lo, hi] -> [0, 1]) that update() resets, with the x axis (ticks
    at the frame's own tick values, labelled in estimate units) redrawn with the histograms: the picture is
    the one a plain estimate axis gives."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import AutoLocator
    from matplotlib.transforms import Affine2D, blended_transform_factory
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    ax = axes[0]
    frame = Affine2D()                                           # estimates -> the axes' 0..1 (update())
    on_frame = frame + ax.transData
    bins = np.linspace(0.0, 1.0, HIST_BINS + 1)                  # placeholders: update() sets the frame's
    hists = [ax.stairs(np.zeros(HIST_BINS), bins, linestyle=ls, lw=1.6, label=kind, color=f"C{i}", transform=on_frame)
             for i, (kind, ls) in enumerate(zip(KINDS, ("-", "--", ":")))]
    truth = ax.axvline(result["sm"], color="k", lw=1, label="SM(x, y)")   # its value: in the title
    truth.set_transform(blended_transform_factory(on_frame, ax.transAxes))
    ax.set_xlim(0, 1)
    locator = AutoLocator()
    locator.set_axis(ax.xaxis)                                   # its tick count follows the axis's width
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("estimate of SM(x, y) = exp(x·y)")
    ax.set_ylabel("density (highest = 1)")
    title = fig.suptitle("", x=0.01, ha="left")
    legend = ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False, columnspacing=0.8,
                       handlelength=1.4)                     # above the axes, never over a histogram
    ax = axes[1]
    pos = np.arange(len(KINDS))
    ones = np.ones(len(KINDS))
    bars = ax.errorbar(pos, ones, yerr=0.5 * ones, fmt="o", color="k", capsize=4, label="Monte Carlo ± 2 SE")
    formula = ax.scatter(pos, ones, marker="_", s=400, color="tab:red", label="Lemma 2 (iid)")
    ortho = ax.scatter([1], [1.0], marker="v", color="tab:blue", label="Thm 2 bound (ort.)")     # hidden for iid draws
    ax.set_xticks(pos, ["trig", "positive", "hyperb."])
    ax.set_xlim(-0.5, len(KINDS) - 0.5)
    ax.set_xlabel("estimator")
    ax.set_yscale("log")
    ax.set_ylabel("MSE")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, handlelength=1.2)
    fig.subplots_adjust(left=0.07, right=0.97, bottom=0.15, top=0.7, wspace=0.3)
    fig._linattn = dict(axes=axes, hists=hists, truth=truth, frame=frame, locator=locator,
                        legend=legend, title=title, bars=bars, formula=formula, ortho=ortho)
    update(fig, result)
    return fig


def update(fig, result):
    """New data in the same artists (the orthogonal bound shown or hidden), for every control. The axes'
    frames (_frames) are set here: when one moved, the renderer re-takes its background (no rebuild)."""
    a = getattr(fig, "_linattn", None)
    if a is None:
        return False
    from matplotlib.ticker import FixedFormatter, FixedLocator
    (x_lo, x_hi), (mse_lo, mse_hi) = _frames(result)
    a["frame"].clear().translate(-x_lo, 0).scale(1 / (x_hi - x_lo), 1)
    ticks, labels = axis_ticks(a["locator"], x_lo, x_hi)
    a["axes"][0].xaxis.set_major_locator(FixedLocator([(t - x_lo) / (x_hi - x_lo) for t in ticks]))
    a["axes"][0].xaxis.set_major_formatter(FixedFormatter(labels))
    a["axes"][1].set_ylim(10.0 ** mse_lo, 10.0 ** mse_hi)
    bins = np.linspace(x_lo, x_hi, HIST_BINS + 1)
    counts = [np.histogram(result["estimates"][kind], bins)[0] for kind in KINDS]      # equal bins, reps each:
    peak = max(float(c.max()) for c in counts) or 1.0                                  # counts ∝ densities
    for hist, c in zip(a["hists"], counts):
        hist.set_data(c / peak, bins)
    a["truth"].set_xdata([result["sm"]] * 2)
    a["title"].set_text(_suptitle(result))
    pos = np.arange(len(KINDS))
    mc = np.array([result["mc_mse"][k] for k in KINDS])
    se2 = 2 * np.array([result["mc_se"][k] for k in KINDS])
    point, (cap_lo, cap_hi), (segments,) = a["bars"].lines
    point.set_data(pos, mc)
    cap_lo.set_data(pos, mc - se2)
    cap_hi.set_data(pos, mc + se2)
    segments.set_segments([np.array([[p, y - e], [p, y + e]]) for p, y, e in zip(pos, mc, se2)])
    a["formula"].set_offsets(np.column_stack([pos, [result["formula_mse"][k] for k in KINDS]]))
    shown = bool(result["orthogonal"] and np.isfinite(result["ortho_bound"]))
    a["ortho"].set_visible(shown)
    if shown:
        a["ortho"].set_offsets([[1, result["ortho_bound"]]])
    spines = [sp for ax in a["axes"] for sp in ax.spines.values()]      # the frames over the curves' ends
    return [a["axes"][0].xaxis, *a["hists"], a["truth"], a["legend"], a["title"], segments,
            cap_lo, cap_hi, point, a["formula"], a["ortho"], *spines]
