"""Notebook 04 panel: the three random-feature estimators of SM(x, y) = exp(x . y), sampled and exact.

Sliders |x|, |y|, angle, m, iid/orthogonal -> histograms of the estimates (one per independent
projection w) and their Monte-Carlo MSE next to Lemma 2 (``linattn_edu.theory``).

``sample_kernel_estimates`` is also what notebook 04 and tests/test_theory.py use to sample the
estimators: it calls the library's feature maps, never a re-implementation.
"""
import numpy as np

from . import hint, styled

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
    w = draw_projections(m, d, reps, orthogonal, seed).reshape(reps * m, d)          # (reps*m, d)
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


@styled
def draw(result, fig=None):
    import matplotlib.pyplot as plt
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    ax = axes[0]
    sm = result["sm"]
    ests = result["estimates"]
    lo = min(np.percentile(e, 0.5) for e in ests.values())
    hi = max(np.percentile(e, 99.5) for e in ests.values())
    bins = np.linspace(lo, hi, 60)
    for kind, hatch, ls in zip(KINDS, ("//", "", ".."), ("-", "--", ":")):
        ax.hist(ests[kind], bins=bins, histtype="step", linestyle=ls, lw=1.6, label=kind, density=True)
    ax.axvline(sm, color="k", lw=1, label=f"SM = {sm:.3g}")
    ax.set_xlabel("estimate of SM(x, y) = exp(x·y)")
    ax.set_ylabel("density")
    fig.suptitle(f"{len(ests['trig'])} projections of m = {result['m']} draws each"
                 + (" (orthogonal)" if result["orthogonal"]
                    else " (iid: orthogonal needs m ≤ d = 16)" if result.get("orthogonal_requested") else " (iid)"),
                 x=0.01, ha="left")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False, columnspacing=0.8,
              handlelength=1.4)                              # above the axes, never over a histogram
    ax = axes[1]
    pos = np.arange(len(KINDS))
    mc = [result["mc_mse"][k] for k in KINDS]
    se = [result["mc_se"][k] for k in KINDS]
    ax.errorbar(pos, mc, yerr=[2 * s for s in se], fmt="o", color="k", capsize=4, label="Monte Carlo ± 2 SE")
    ax.scatter(pos, [result["formula_mse"][k] for k in KINDS], marker="_", s=400, color="tab:red",
               label="Lemma 2 (iid)")
    if result["orthogonal"] and np.isfinite(result["ortho_bound"]):
        ax.scatter([1], [result["ortho_bound"]], marker="v", color="tab:blue", label="Thm 2 bound (ort.)")
    ax.set_xticks(pos, ["trig", "positive", "hyperb."])
    ax.set_xlim(-0.5, len(KINDS) - 0.5)
    ax.set_xlabel("estimator")
    ax.set_yscale("log")
    ax.set_ylabel("MSE")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, handlelength=1.2)
    fig.subplots_adjust(left=0.07, right=0.97, bottom=0.15, top=0.7, wspace=0.3)
    return fig
