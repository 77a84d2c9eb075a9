"""Every figure in figures/, regenerated from code.

    python figures/make_figures.py                   # all figures into figures/  (make figures)
    python figures/make_figures.py --out DIR         # into another folder (tests/test_figures.py does this)
    python figures/make_figures.py --only NAME ...   # some figures only
    python figures/make_figures.py --list            # name, notebook and caption of every figure

One function per figure, registered with @figure(name, notebook, caption, size). Each writes
NAME.png (150 dpi, for slides) and NAME.svg (for print). The numbers come from the panels' pure
``compute`` functions (linattn_edu/panels/nbXX_*.py) where a panel computes them, otherwise from the
library; seeds and sizes are fixed in each function. The style (STYLE below) fixes the font
(matplotlib's bundled DejaVu Sans), the font sizes and a line cycle in which every series differs
in line style and marker as well as colour, so the figures read in greyscale. Files are reproducible
byte for byte on one machine: no date or software version in the metadata, a fixed SVG hash salt.
"""
import argparse
import sys
import time
from collections import namedtuple
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt      # noqa: E402  (after the backend is chosen)
import numpy as np                   # noqa: E402
from cycler import cycler            # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIGURES_DIR = ROOT / "figures"
DPI = 150
WIDE = (10.0, 4.0)                       # inches: 1500 x 600 px at 150 dpi

# colour-blind-safe colours (Okabe-Ito), each paired with its own line style and marker
_COLORS = ["#000000", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00"]
_LINES = ["-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1))]
_MARKERS = ["o", "s", "^", "D", "v", "x"]
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.prop_cycle": cycler(color=_COLORS) + cycler(linestyle=_LINES) + cycler(marker=_MARKERS),
    "lines.linewidth": 1.6,
    "lines.markersize": 5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "image.cmap": "Greys",
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "svg.hashsalt": "linattn-edu",
    "svg.fonttype": "path",
}

Figure = namedtuple("Figure", ["func", "notebook", "caption", "size", "needs"])
FIGURES = {}


def figure(name, notebook, caption, size=WIDE, needs=None):
    """Register fn(fig) as the figure NAME: drawn into a fresh Figure of the given size (inches).

    needs: None, or a callable returning None when the figure can be drawn and otherwise the reason
    it cannot (used by the figures drawn from stored measurements, before those are committed).
    """
    if "\n" in caption or not caption.strip():
        raise ValueError(f"figure {name}: the caption must be one non-empty line")

    def register(fn):
        FIGURES[name] = Figure(fn, notebook, caption, size, needs)
        return fn
    return register


def missing_input(name):
    """None if figure NAME can be drawn now, else the reason it cannot."""
    needs = FIGURES[name].needs
    return needs() if needs is not None else None


def render(name, out):
    """Draw figure NAME and write out/NAME.png and out/NAME.svg; returns the two paths."""
    spec = FIGURES[name]
    out = Path(out)
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=spec.size, dpi=DPI, layout="constrained")
        try:
            spec.func(fig)
            png, svg = out / f"{name}.png", out / f"{name}.svg"
            fig.savefig(png, dpi=DPI, metadata={"Software": None})
            fig.savefig(svg, metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    return png, svg


def _every(n_points, k=8):
    """markevery so that dense curves show about k markers."""
    return max(1, n_points // k)


# ============================================================================ notebook 01
@figure("kernel_weights", "01",
        "Softmax weights (left) next to the weights phi(q).phi(k) / sum gives for a feature map: elu+1 (middle) "
        "is much flatter; one query's row (right) shows the 2nd-order Taylor map close to softmax.")
def kernel_weights(fig):
    from linattn_edu.panels import nb01_kernel_smoother as panel

    maps = {"elu_plus_one": "elu(x)+1", "taylor_features": "Taylor, 2nd order",
            "positive_random": f"positive random, m = {panel.DEFAULTS['m_random']}"}
    res = {name: panel.compute(**dict(panel.DEFAULTS, feature_map=name)) for name in maps}
    first = res["elu_plus_one"]
    A, i, n, tau = first["A"], first["row"], first["n"], first["temperature"]
    axes = fig.subplots(1, 3, width_ratios=[1, 1, 1.6])
    vmax = max(A.max(), first["W"].max())
    for ax, M, title in ((axes[0], A, f"softmax, τ = {tau:g}"), (axes[1], first["W"], "elu(x)+1")):
        im = ax.imshow(M, vmin=0, vmax=vmax)
        ax.axhline(i, color="black", lw=0.8, linestyle="--")
        ax.set_title(f"{title}: weights A_ij")
        ax.set_xlabel("key j")
        ax.set_ylabel("query i")
        ax.grid(False)
    fig.colorbar(im, ax=axes[:2], shrink=0.8, label="weight (each row sums to 1)")
    ax = axes[2]
    j = np.arange(n)
    ax.plot(j, A[i], label="softmax exp(q·k/τ)")
    for name, label in maps.items():
        ax.plot(j, res[name]["W"][i], label=f"{label} (TV {res[name]['tv'][i]:.2f})")
    ax.set_xlabel("key j")
    ax.set_ylabel(f"weight of key j for query {i}")
    ax.set_title(f"row {i} (dashed line, left); TV: total variation")
    ax.legend(loc="upper left")


# ============================================================================ notebook 02
@figure("cost_crossover", "02",
        "FLOPs of softmax attention grow as n^2, of reassociated linear attention as n: the curves cross at "
        "n* = 4m(d_v+1)/(2d+2d_v+3) (vertical lines), later for more features m; memory crosses at sqrt(m(d_v+1)).")
def cost_crossover(fig):
    from linattn_edu import costs
    from linattn_edu.panels import nb02_costs as panel

    d = d_v = 64
    ax_f, ax_m = fig.subplots(1, 2)
    for idx, m in enumerate((64, 256, 1024)):
        res = panel.compute(n=1024, d=d, m=m, d_v=d_v, features=None)      # phi(Q), phi(K) given
        grid = res["grid"]
        if idx == 0:
            ax_f.plot(grid, res["curves"]["flops"]["softmax"], label="softmax, O(n² d)", markevery=_every(len(grid)))
            ax_m.plot(grid, [costs.quadratic_attention_cost(int(n), d, d_v=d_v).memory for n in grid],
                      label="softmax: n × n weights", markevery=_every(len(grid)))
        style = dict(color=_COLORS[idx + 1], linestyle=_LINES[idx + 1])
        ax_f.plot(grid, res["curves"]["flops"]["linear"], marker=_MARKERS[idx + 1], markevery=_every(len(grid)),
                  label=f"linear, m = {m}", **style)
        ax_m.plot(grid, [costs.linear_attention_cost(int(n), m, d_v).memory for n in grid],
                  marker=_MARKERS[idx + 1], markevery=_every(len(grid)), label=f"linear, m = {m}", **style)
        ax_f.axvline(res["crossover_softmax"].flops, lw=0.8, marker="", **style)
        ax_m.axvline(res["crossover_softmax"].memory, lw=0.8, marker="", **style)
    for ax, what in ((ax_f, "FLOPs (multiply-add = 2)"), (ax_m, "peak intermediate memory (floats)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length n (tokens)")
        ax.set_ylabel(what)
        ax.legend()
    ax_f.set_title(f"compute, d = d_v = {d} (vertical lines: crossover n*)")
    ax_m.set_title("memory (vertical lines: crossover n*)")


# ============================================================================ notebook 03
@figure("causal_forms", "03",
        "Three ways to compute causal linear attention: the parallel form builds the masked n x n matrix, "
        "the chunkwise form only its diagonal blocks and carries a state, the recurrent form only the state.")
def causal_forms(fig):
    from linattn_edu.panels import nb03_chunks as panel

    n, C = 16, 4
    small = panel.compute(chunk_size=C, n=n, m=8, d_v=8, seed=0)
    if small["max_diff_vs_parallel"] > 1e-12:            # the picture would be a lie otherwise
        raise AssertionError(f"chunked and parallel forms differ by {small['max_diff_vs_parallel']:.1e}")
    shade = {panel.FUTURE: 0.0, panel.INTER: 0.45, panel.INTRA: 1.0}
    maps = {"parallel (masked n × n)": panel.block_structure(n, n),
            f"chunkwise, C = {C}": small["blocks"],
            "recurrent (C = 1)": panel.block_structure(n, 1)}
    grid = fig.add_gridspec(1, 4, width_ratios=[1, 1, 1, 1.7])
    for col, (title, blocks) in enumerate(maps.items()):
        ax = fig.add_subplot(grid[0, col])
        ax.imshow(np.vectorize(shade.get)(blocks), vmin=0, vmax=1)
        ax.set_title(title)
        ax.set_xlabel("key j")
        if col == 0:
            ax.set_ylabel("query i")
        ax.set_xticks([0, n - 1])
        ax.set_yticks([0, n - 1])
        ax.grid(False)
    fig.supxlabel("left: black = similarity phi(q_i).phi(k_j) computed explicitly, grey = reaches query i "
                  "through the state S, white = masked (j > i)", fontsize=8)

    big = panel.compute(chunk_size=64, n=1024, m=64, d_v=64, seed=0)
    ax = fig.add_subplot(grid[0, 3])
    Cs = big["Cs"]
    every = [np.searchsorted(Cs, 2 ** p) for p in range(0, 11, 2)]     # markers at C = 1, 4, 16, ...
    ax.plot(Cs, big["flops"], label="FLOPs", markevery=every)
    ax.plot(Cs, big["memory"], label="peak memory (floats)", markevery=every)
    ax.plot(Cs, big["steps"], label="sequential steps ⌈n / C⌉", markevery=every)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("chunk size C (tokens)")
    ax.set_ylabel("count")
    ax.set_title(f"chunkwise cost, n = {big['n']}, m = d_v = {big['m']}\n(C = 1: recurrent, C = n: parallel)")
    ax.legend()


# ============================================================================ notebook 04
@figure("estimator_mse", "04",
        "MSE of the three random-feature estimators of exp(x.y) against the angle between x and y: "
        "Lemma 2 (lines) and Monte Carlo (markers, ±2 standard errors); trig features fail where exp(x.y) is small.")
def estimator_mse(fig):
    from linattn_edu.panels import nb04_estimators as panel

    norm, m = 1.0, 16
    angles = np.linspace(0.2, np.pi - 0.2, 8)
    params = dict(panel.DEFAULTS, norm_x=norm, norm_y=norm, m=m, reps=2000, orthogonal=False)
    results = [panel.compute(**dict(params, angle=float(a), seed=100 + 10 * i)) for i, a in enumerate(angles)]
    fine = np.linspace(angles[0], angles[-1], 60)
    curves = [panel.compute(**dict(params, angle=float(a), reps=2)) for a in fine]    # for the formulas only
    ax, ax_rel = fig.subplots(1, 2)
    for idx, kind in enumerate(panel.KINDS):
        style = dict(color=_COLORS[idx])
        formula = np.array([r["formula_mse"][kind] for r in curves])
        sm = np.array([r["sm"] for r in curves])
        mc = np.array([r["mc_mse"][kind] for r in results])
        se = np.array([r["mc_se"][kind] for r in results])
        sm_mc = np.array([r["sm"] for r in results])
        for a, y in ((ax, formula), (ax_rel, formula / sm ** 2)):
            a.plot(fine, y, linestyle=_LINES[idx], marker="", label=f"{kind}: Lemma 2", **style)
        for a, scale in ((ax, 1.0), (ax_rel, sm_mc ** -2)):
            low = np.minimum(2 * se, 0.9 * mc) * scale       # a log axis cannot show a bar reaching 0
            a.errorbar(angles, mc * scale, yerr=[low, 2 * se * scale], marker=_MARKERS[idx], linestyle="none",
                       capsize=3, label=f"{kind}: Monte Carlo", **style)
    ticks = ([np.pi / 4, np.pi / 2, 3 * np.pi / 4], ["π/4", "π/2", "3π/4"])
    for a in (ax, ax_rel):
        a.set_yscale("log")
        a.set_xlabel(f"angle between x and y (radians), |x| = |y| = {norm:g}")
        a.set_xticks(*ticks)
    ax.set_ylabel("MSE of the estimate of exp(x·y)")
    ax_rel.set_ylabel("relative MSE = MSE / exp(x·y)²")
    ax.set_title(f"m = {m} features, d = {params['d']}, {params['reps']} draws per point")
    ax_rel.set_title("relative to the kernel value")
    ax_rel.legend(ncol=2)


# ============================================================================ notebook 05
@figure("attention_error_vs_m", "05",
        "FAVOR+ errors against the number of random features m (|q| = |k| = 2, d = 16): the largest kernel-entry "
        "error (left; trig far above positive, with the Hoeffding bound) and the relative output error (right), "
        "both falling about as m^-1/2.")
def attention_error_vs_m(fig):
    from linattn_edu.panels import nb05_attention_error as panel

    ms = 2 ** np.arange(2, 11, 2)
    params = dict(panel.DEFAULTS, causal=False)
    results = [panel.compute(**dict(params, m=int(m))) for m in ms]
    ax_k, ax_o = fig.subplots(1, 2)
    for idx, kind in enumerate(("trig", "positive")):
        errs = np.array([r["kernel_max_err"][kind] for r in results])          # (len(ms), reps)
        ax_k.plot(ms, np.median(errs, axis=1), label=f"{kind} features (median)")
        ax_k.fill_between(ms, *np.percentile(errs, [10, 90], axis=1), color=_COLORS[idx], alpha=0.15, lw=0)
    ax_k.plot(ms, [r["hoeffding_union"] for r in results], color="grey", linestyle="--", marker="",
              label="Hoeffding + union bound (trig, p = 1/2)")
    ax_k.set_ylabel("max_ij |K̂_ij − K_ij|,  K_ij = exp(q_i·k_j/√d)")
    ax_k.set_title(f"kernel matrix, n = {params['n']}, {params['reps']} projections per m (band: 10-90 %)")
    out = np.array([r["out_rel_err"] for r in results])
    ax_o.plot(ms, np.median(out, axis=1), color=_COLORS[1], linestyle=_LINES[1], marker=_MARKERS[1],
              label="positive features, iid (median)")
    ax_o.fill_between(ms, *np.percentile(out, [10, 90], axis=1), color=_COLORS[1], alpha=0.15, lw=0)
    ax_o.plot(ms, np.median(out[0]) * (ms / ms[0]) ** -0.5, color="grey", linestyle=":", marker="",
              label="slope m^-1/2")
    ax_o.set_ylabel("‖performer − softmax‖ / ‖softmax‖")
    ax_o.set_title("attention output (band: 10-90 %)")
    for ax in (ax_k, ax_o):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("number of random features m")
        ax.legend()


# ============================================================================ notebook 06
@figure("linformer_spectrum", "06",
        "Is softmax attention low rank? Singular values (left) vanish after 8 for few-token inputs, decay slowly "
        "for random ones and hardly at all for local attention; right: rank-k shortcuts, best (SVD) to untrained Linformer.")
def linformer_spectrum(fig):
    from linattn_edu.panels import nb06_linformer as panel

    ax_s, ax_e = fig.subplots(1, 2)
    results = {st: panel.compute(**dict(panel.DEFAULTS, structure=st)) for st in panel.STRUCTURES}
    for st, res in results.items():
        s = res["singular_values"]
        ax_s.plot(np.arange(1, s.size + 1), np.maximum(s / s[0], 1e-17), label=f"{st} inputs",
                  markevery=_every(s.size, 10))
    n = results["random"]["n"]
    ax_s.set_yscale("log")
    ax_s.set_ylim(1e-17, 2)
    ax_s.set_xlabel("index i (singular values in decreasing order)")
    ax_s.set_ylabel("σ_i / σ_1 of P = softmax(QKᵀ/√d)")
    ax_s.set_title(f"spectrum of the attention matrix, n = {n}, d = {panel.DEFAULTS['d']}")
    ax_s.legend()
    res = results["random"]
    keep = res["ks"] < n                            # at k = n every shortcut is exact (error ~1e-15)
    for name, err in res["errors"].items():
        ax_e.plot(res["ks"][keep], err[keep], label=name)
    ax_e.set_xscale("log", base=2)
    ax_e.set_yscale("log")
    ax_e.set_xlabel("rank / projected length k")
    ax_e.set_ylabel("relative output error ‖P̃V − PV‖ / ‖PV‖")
    ax_e.set_title(f"rank-k shortcuts, random inputs, k < n (E, F untrained)")
    ax_e.legend()


# ============================================================================ notebook 07
@figure("decay_mask", "07",
        "The decay mask L_ij = a_(j+1)...a_i: a constant decay (half-life 8 tokens) forgets geometrically, "
        "a data-dependent one can keep a long span and then reset at one token (t = 24).")
def decay_mask(fig):
    from linattn_edu import numpy as lnp
    from linattn_edu.panels import nb07_decay as panel

    const = panel.compute(**dict(panel.DEFAULTS, half_life=8.0))
    if const["max_diff_quadratic_vs_recurrent"] > 1e-10:
        raise AssertionError("decayed quadratic and recurrent forms disagree; the figure would be wrong")
    n = const["n"]
    rng = np.random.default_rng(0)
    log_a = np.log(rng.uniform(0.97, 1.0, n))                # data-dependent gates, mostly "keep"
    log_a[24] = np.log(0.01)                                 # one token that resets the memory
    masks = {f"constant a = {const['a']:.3f} (half-life 8)": const["L"],
             "data-dependent a_t, reset at t = 24": lnp.decay_mask(log_a)}
    grid = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.4])
    axes = []
    for col, (title, L) in enumerate(masks.items()):
        ax = fig.add_subplot(grid[0, col])
        im = ax.imshow(L, vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("key position j")
        ax.set_ylabel("query position i")
        ax.grid(False)
        axes.append(ax)
    fig.colorbar(im, ax=axes, shrink=0.8, label="L_ij (share of token j kept)")
    ax = fig.add_subplot(grid[0, 2])
    for title, L in masks.items():
        ax.plot(np.arange(n), np.maximum(L[n - 1], 1e-12), label=title, markevery=6)
    ax.axhline(panel.READABLE, color="grey", lw=0.8, linestyle=":", marker="")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 2)
    ax.set_xlabel("key position j")
    ax.set_ylabel("L_(n−1, j): weight of token j at the last query")
    ax.set_title(f"last row of each mask, n = {n} (dotted: 1 %)")
    ax.legend(loc="lower right")


# ============================================================================ notebook 08
@figure("delta_rule_recall", "08",
        "Store N key-value pairs in one d_k x d_v state and read each key back: with orthogonal keys both rules "
        "are exact up to N = d_k; with correlated keys the additive rule's crosstalk grows with every pair, "
        "the delta rule (beta = 1), which overwrites, errs far less.")
def delta_rule_recall(fig):
    from linattn_edu.panels import nb08_memory as panel

    d = 32
    axes = fig.subplots(1, 2, sharey=True)
    for ax, corr in zip(axes, (0.0, 0.5)):
        res = panel.compute(**dict(panel.DEFAULTS, d=d, n_pairs=d, key_corr=corr, beta=1.0))
        N = res["sweep"]
        ax.plot(N, res["additive_curve"], label="additive (linear attention)", markevery=4)
        ax.plot(N, res["delta_curve"], label="delta rule, β = 1", markevery=4)
        ax.axvline(d, color="grey", lw=0.8, linestyle=":", marker="")
        ax.set_xlabel(f"number of stored pairs N (dotted: N = d_k = {d})")
        ax.set_title(f"key correlation {corr:g} (mean |k_i·k_j| = {res['mean_abs_key_overlap']:.2f})")
    axes[0].set_ylabel("relative recall error mean ‖Sᵀk_i − v_i‖ / ‖v_i‖")
    axes[0].legend()


# ============================================================================ stored measurements
# Two figures show measurements too slow to redo in `make figures` (training runs, a GPU); they read the
# committed result files the notebooks read, each of which records its command, date and machine.
MQAR_RESULTS = ROOT / "benchmarks" / "results"        # mqar-capacity-full.json: notebook 09's stored run


def _mqar_files():
    return sorted(MQAR_RESULTS.glob("mqar-capacity-full.json"))


def _gpu_results():
    from linattn_edu.panels import nb10_scaling
    return Path(nb10_scaling.DEFAULT_RESULTS)                               # notebook 10's stored H200 run


def _needs_file(path_fn, how):
    return lambda: None if path_fn().exists() else f"{path_fn()} is missing ({how} writes it)"


def _needs_mqar():
    return None if _mqar_files() else (f"no {MQAR_RESULTS}/mqar-capacity-full.json "
                                       "(python -m benchmarks.mqar_capacity writes it)")


@figure("mqar_recall", "09",
        "Multi-query associative recall after equal training (stored run, 3 seeds, mean and range): with 15 "
        "possible keys, softmax recalls from a 4-wide head; the fixed-state mixers climb as the state grows.",
        needs=_needs_mqar)
def mqar_recall(fig):
    import json

    from linattn_edu import mqar

    record = json.loads(_mqar_files()[0].read_text())       # the file and rows notebook 09 plots
    s = mqar.summary(record["rows"])
    ax = fig.subplots(1, 1)
    for kind in mqar.MIXERS:
        if kind not in s:
            continue
        w = sorted(s[kind])
        mean = [s[kind][x][0] for x in w]
        ax.errorbar(w, mean, yerr=[[m - s[kind][x][1] for m, x in zip(mean, w)],
                                   [s[kind][x][2] - m for m, x in zip(mean, w)]], capsize=3, label=kind)
    ax.axvline(mqar.POSSIBLE_KEYS, color="grey", lw=0.8, linestyle=":", marker="")
    ax.set_xscale("log", base=2)
    ax.set_xticks([2, 4, 8, 16], ["2", "4", "8", "16"])
    ax.set_xlabel("head width d_head = d_k = d_v (state d_head² floats; dotted: 15 possible keys)")
    ax.set_ylabel("recall accuracy at the query positions")
    ax.set_ylim(-0.02, 1.05)
    ax.set_title("D = 8 pairs, length 32, one head; the same 400 steps for every model")
    ax.legend()
    fig.supxlabel(f"stored in benchmarks/results/{_mqar_files()[0].name} ({record['date'][:10]}); "
                  f"{record['machine']['cpu']}", fontsize=7)


@figure("gpu_scaling", "10",
        "Measured on one H200 (stored run), forward + backward: softmax (SDPA) time grows as T^2, the chunkwise "
        "linear forms as T; the dashed line marks where the compiled chunkwise form overtakes SDPA.",
        needs=_needs_file(_gpu_results, "python -m benchmarks.speed --device cuda --out <file>"))
def gpu_scaling(fig):
    from linattn_edu.panels import nb10_scaling as panel

    res = panel.compute(**panel.DEFAULTS)                  # fwd+bwd, the main methods, the stored H200 run
    record = panel.load()
    ax_t, ax_m = fig.subplots(1, 2)
    for name, (T, ms) in res["time"].items():
        line, = ax_t.plot(T, ms, label=res["labels"][name])
        Tm, gib = res["memory"][name]
        ax_m.plot(Tm, gib, color=line.get_color(), linestyle=line.get_linestyle(), marker=line.get_marker(),
                  label=res["labels"][name] + (f" (OOM at T = {res['oom'][name][0]})" if res["oom"][name] else
                                               f" (not run from T = {min(res['capped'][name])}: memory)"
                                               if res["capped"].get(name) and name == "quadratic" else ""))
        if res["oom"][name] or (res["capped"].get(name) and name == "quadratic"):
            ax_m.plot(Tm[-1:], gib[-1:], marker="X", ms=9, color=line.get_color(), linestyle="")   # where it stops
    if res["floors"] is not None:
        ax_t.plot(res["T_grid"], res["floors"]["softmax_flops_ms"], color="grey", linestyle=(0, (1, 2)), marker="",
                  lw=1, label="softmax FLOPs at peak bf16 rate")
        ax_m.plot(res["T_grid"], res["floors"]["inputs_gib"], color="grey", linestyle=(0, (1, 2)), marker="",
                  lw=1, label="inputs alone")
    if res["crossover"]:
        for ax in (ax_t, ax_m):
            ax.axvline(res["crossover"], color="grey", lw=0.8, linestyle="--", marker="")
    for ax, what in ((ax_t, "time per call (ms, median)"), (ax_m, "peak GPU memory (GiB, inputs included)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(f"sequence length T (tokens); {res['setting']}")
        ax.set_ylabel(what)
        ax.legend(fontsize=6.5)
    ax_t.set_title(f"{res['mode']} time, {res['device']} (dashed: crossover T = {res['crossover']})")
    ax_m.set_title(f"{res['mode']} peak memory")
    fig.supxlabel(f"{_gpu_results().relative_to(ROOT)}: {str(record['meta']['date'])[:10]}, "
                  f"{record['meta']['command']}", fontsize=7)


# ============================================================================ notebook 11
@figure("audit_tv_entropy", "11",
        "The audit of a trained byte-level model: linear methods miss the sharp softmax rows (left: total variation "
        "against the row's normalised entropy, mean per bin), and swapping one layer-0 head costs more loss "
        "than any later head (right).")
def audit_tv_entropy(fig):
    import torch

    from linattn_edu import audit, lm

    torch.set_num_threads(1)
    model, _, val = lm.load()
    x = val[:16].long()
    with torch.no_grad():
        qkv = model.qkv(x[:, :-1])                                             # per layer (q, k, v) (16, H, n, d)
    soft = [audit.method_weights("softmax", q, k).numpy() for q, k, _ in qkv]
    edges = np.linspace(0.0, 1.0, 11)
    mid = 0.5 * (edges[1:] + edges[:-1])
    ax_tv, ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    for name in ("elu+1", "favor+ m=64", "taylor", "decay 0.95"):
        H, T = [], []
        with torch.no_grad():
            for l, (q, k, v) in enumerate(qkv):
                m = audit.row_metrics(soft[l], audit.method_weights(name, q, k, seed=l).numpy(), v.numpy())
                H.append(m["norm_entropy"][..., audit.SKIP_ROWS:].ravel())
                T.append(m["tv"][..., audit.SKIP_ROWS:].ravel())
        H, T = np.concatenate(H), np.concatenate(T)
        b = np.clip(np.digitize(H, edges) - 1, 0, len(mid) - 1)
        ok = np.bincount(b, minlength=len(mid)) >= 20                     # bins with at least 20 rows
        mean = np.array([T[b == i].mean() if ok[i] else np.nan for i in range(len(mid))])
        ax_tv.plot(mid[ok], mean[ok], label=name)
    ax_tv.set_xlabel("softmax row entropy / log(i+1)  (0: one key, 1: uniform)")
    ax_tv.set_ylabel("total variation to the softmax row (mean)")
    ax_tv.set_title(f"every row i >= {audit.SKIP_ROWS} of 12 heads, 16 windows of stdlib source")
    ax_tv.legend()
    eval_ = val[:32]
    base = lm.loss_on(model, eval_)
    elu = audit.method_attention("elu+1")
    L, n_heads = model.cfg.n_layers, model.cfg.n_heads
    jump = np.zeros((L, n_heads))
    for l in range(L):
        for h in range(n_heads):
            att = [None] * L
            att[l] = audit.head_swap_attention(elu, h)
            jump[l, h] = lm.loss_on(model, eval_, attention=att) - base
    pos = np.arange(L * n_heads) + np.repeat(np.arange(L), n_heads)             # a gap between layers
    for l, hatch in zip(range(L), ("", "//", "..")):
        ax_loss.bar(pos[l * n_heads:(l + 1) * n_heads], jump[l], color=str(0.2 + 0.3 * l), hatch=hatch,
                    edgecolor="black", label=f"layer {l}")
    ax_loss.set_xticks(pos, [f"{h}" for _ in range(L) for h in range(n_heads)])
    ax_loss.set_xlabel("head (grouped by layer)")
    ax_loss.set_ylabel("loss increase (nats/byte)")
    ax_loss.set_title(f"one head swapped to elu+1, the rest softmax (loss {base:.2f})")
    ax_loss.legend()


# ============================================================================ command line
def main(argv=None):
    parser = argparse.ArgumentParser(description="Regenerate the figures in figures/ from code.")
    parser.add_argument("--out", default=str(FIGURES_DIR), help="output folder (default: figures/)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these figures (see --list)")
    parser.add_argument("--list", action="store_true", help="print name, notebook and caption of each figure")
    args = parser.parse_args(argv)
    if args.list:
        for name, spec in FIGURES.items():
            print(f"{name}\tnotebook {spec.notebook}\t{spec.caption}")
        return
    names = args.only or list(FIGURES)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        parser.error(f"--only: unknown figure(s) {unknown}; known: {sorted(FIGURES)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all, done = time.perf_counter(), 0
    for name in names:
        reason = missing_input(name)
        if reason:
            print(f"{name}: SKIPPED: {reason}", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        render(name, out)
        done += 1
        print(f"{name}: {time.perf_counter() - t0:.1f} s")
    print(f"{done} figure(s) in {out} in {time.perf_counter() - t_all:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
