"""Notebook 06 panel: is softmax attention low rank, and how well do rank-k shortcuts do?

Sliders n, k, input structure -> the singular values of P = softmax(Q K^T / sqrt(d)) and the relative
output error ||P~ V - P V|| / ||P V|| against k for three rank-k shortcuts:
    best rank k (truncated SVD of P; Eckart-Young: the best any rank-k matrix can do),
    a JL projection P R^T R with R: (k, n), entries N(0, 1/k) (Linformer's Theorem 1),
    Linformer itself, softmax(Q (E K)^T / sqrt(d)) (F V), with E = F = R (untrained, random) and with
    E = F = mean pooling over k blocks of positions (one of the paper's fixed choices).
"""
import functools
import math

import numpy as np

from . import hint, styled

from .. import numpy as lnp

STRUCTURES = ("random", "few tokens", "local")
LABELS = {"best rank k (SVD)": "best rank k", "JL: P R^T R": "JL: P RᵀR",
          "Linformer (E = F = R)": "Linformer, random E", "Linformer (mean pooling)": "Linformer, pooling"}
DEFAULTS = dict(n=128, k=32, structure="random", d=32, d_v=8, seed=0)
FIGSIZE = (10, 4.4)


def controls():
    """n, k (kept <= n: a rank-k shortcut of an n x n matrix needs k <= n) and the input structure."""
    import ipywidgets as w
    wide = {"description_width": "initial"}
    n = w.IntSlider(value=128, min=32, max=256, step=32, description="length n", continuous_update=False,
                    style=wide)
    k = hint(w.IntSlider(value=32, min=2, max=128, step=2, description="rank k", continuous_update=False,
                         style=wide), "k ≤ n projected positions (rank of the shortcut); the SVD is redone on release")
    structure = w.Dropdown(options=list(STRUCTURES), value="random", description="inputs", style=wide)

    def keep_k_inside(change):
        k.max = min(128, change["new"])         # ipywidgets clamps k.value to the new range
    n.observe(keep_k_inside, names="value")
    return {"n": n, "k": k, "structure": structure}


def make_inputs(n, d, structure, seed=0):
    """q, k: (n, d) of a given structure (seeded).

    random:      entries N(0, 1): attention neither uniform nor one-hot
    few tokens:  every row is one of 8 random 'token' vectors (scale 1.5): P has at most 8 distinct
                 rows and columns, so rank(P) <= 8
    local:       q_i = k_i = sinusoidal position code: q_i . k_j depends on i - j and peaks at i = j,
                 so P is a band around the diagonal (high rank)
    """
    rng = np.random.default_rng(seed)
    if structure == "random":
        return rng.standard_normal((n, d)), rng.standard_normal((n, d))
    if structure == "few tokens":
        vocab = 1.5 * rng.standard_normal((8, d))
        return vocab[rng.integers(0, 8, n)], vocab[rng.integers(0, 8, n)]
    if structure == "local":
        freqs = 2 * np.pi / np.geomspace(4, 4 * n, d // 2)                   # (d/2,) wavelengths 4 .. 4n
        ang = np.arange(n)[:, None] * freqs[None, :]                        # (n, d/2)
        x = 2.0 * np.concatenate([np.cos(ang), np.sin(ang)], axis=1)        # (n, d); q.k/sqrt(d) = 4 sum cos / sqrt(d)
        return x, x.copy()
    raise ValueError(f"structure must be one of {STRUCTURES} (got {structure!r})")


def jl_matrix(k, n, seed=0):
    """R: (k, n) with entries N(0, 1/k), so that E[R^T R] = I_n."""
    return np.random.default_rng(seed).standard_normal((k, n)) / np.sqrt(k)


def pooling_matrix(k, n):
    """E: (k, n) averaging k contiguous blocks of positions (Linformer's pooling option; block sizes differ by <= 1).

    Needs 1 <= k <= n: k > n blocks would leave some empty."""
    if not 1 <= k <= n:
        raise ValueError(f"pooling_matrix needs 1 <= k <= n (got k = {k}, n = {n}): k > n blocks leave some empty")
    E = np.zeros((k, n))
    for i, block in enumerate(np.array_split(np.arange(n), k)):
        E[i, block] = 1.0 / block.size
    return E


ERROR_NAMES = ("best rank k (SVD)", "JL: P R^T R", "Linformer (E = F = R)", "Linformer (mean pooling)")


@functools.lru_cache(maxsize=16)
def _setting(n, structure, d, d_v, seed):
    """What every k of one (n, inputs) setting shares: q, k, v, P, its SVD, P V and the k grid; plus a memo of
    the errors at each k done so far (_errors_at), so a k move computes one k, not the whole grid."""
    q, kk = make_inputs(n, d, structure, seed)
    v = np.random.default_rng(seed + 1).standard_normal((n, d_v))
    P = lnp.attention_weights(q, kk)                                         # (n, n)
    U, s, Vt = np.linalg.svd(P)
    out = P @ v
    grid = np.unique(np.clip(np.round(np.geomspace(2, n, 12)).astype(int), 1, n))
    return dict(q=q, kk=kk, v=v, P=P, U=U, s=s, Vt=Vt, out=out, norm_out=np.linalg.norm(out), grid=grid, errors={})


def _errors_at(st, j, seed):
    """The four shortcuts' relative output errors at rank j, in ERROR_NAMES order (memoised in st)."""
    if j not in st["errors"]:
        q, kk, v, P, U, s, Vt, out, norm_out = (st[x] for x in ("q", "kk", "v", "P", "U", "s", "Vt", "out", "norm_out"))
        n = P.shape[0]
        P_k = (U[:, :j] * s[:j]) @ Vt[:j]                                   # truncated SVD
        R = jl_matrix(int(j), n, seed + 2)
        E = pooling_matrix(int(j), n)
        st["errors"][j] = (np.linalg.norm(P_k @ v - out) / norm_out,
                           np.linalg.norm(P @ (R.T @ (R @ v)) - out) / norm_out,
                           np.linalg.norm(lnp.linformer_attention(q, kk, v, R, R) - out) / norm_out,
                           np.linalg.norm(lnp.linformer_attention(q, kk, v, E, E) - out) / norm_out)
    return st["errors"][j]


def compute(n=128, k=32, structure="random", d=32, d_v=8, seed=0):
    k_requested, k = k, int(min(max(k, 1), n))          # a rank-k shortcut of an n x n matrix: k <= n
    st = _setting(n, structure, d, d_v, seed)
    ks = np.union1d(st["grid"], [k])
    err = np.array([_errors_at(st, j, seed) for j in ks])                     # (len(ks), 4)
    s = st["s"].copy()
    return {"singular_values": s, "ks": ks, "errors": {key: err[:, i].copy() for i, key in enumerate(ERROR_NAMES)},
            "k": k, "k_requested": k_requested, "n": n, "structure": structure,
            "energy_at_k": float(np.sum(s[:k] ** 2) / np.sum(s ** 2))}


ERROR_LIMITS = (3e-18, 3e2)   # every error of every setting (<= 144; clipped at 1e-17: the SVD at k = n is round-off)
ERROR_TICKS = 10.0 ** np.arange(-15, 1, 3)


def _frame(n):
    """The x axes span 2^ceil(log2 n) positions: n moves within a power of two keep them (and blit)."""
    return 2 ** math.ceil(math.log2(max(int(n), 2)))


def _sigma_floor(result):
    """Lower y limit of the singular values: the whole decade below min(σ_i / σ_1) / 2 (>= 1e-17)."""
    s = result["singular_values"]
    return 10.0 ** math.floor(math.log10(max(1e-17, float((s / s[0]).min()) / 2)))


def _suptitle(result):
    clamped = f" (k = {result['k_requested']} > n: k = n)" if result.get("k_requested", result["k"]) > result["k"] else ""
    return f"inputs: {result['structure']}, n = {result['n']}, k = {result['k']}{clamped}; dashed orange: k"


SIGMA_TICKS = dict(base=10, numticks=6)     # the σ axis's ticks: up to 17 decades, so powers of ten only


def _sigma_ticks(lo, hi):
    """Tick positions (log10) and labels of a log σ axis over [lo, hi]: powers of ten, plain text."""
    from matplotlib.ticker import LogLocator
    ticks = [t for t in LogLocator(**SIGMA_TICKS).tick_values(lo, hi) if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
    return [math.log10(t) for t in ticks], [f"{t:g}" for t in ticks]


@styled
def draw(result, fig=None):
    """Artists built once; update() moves them. The σ axis's floor (_sigma_floor) moves with n and the inputs;
    so that those moves blit rather than redraw the figure, the left axes' y limits stay 0..1 and σ_i / σ_1
    reaches them through log10 and a transform (``sigma_frame``: the floor's decade .. 2 -> [0, 1]) that
    update() resets, with the y axis (powers of ten, as a log axis ticks them) redrawn with the curves: the
    picture is the one a plain log axis gives."""
    import matplotlib.pyplot as plt
    from matplotlib.scale import LogTransform
    from matplotlib.ticker import FixedLocator
    from matplotlib.transforms import Affine2D, IdentityTransform, blended_transform_factory
    from .nb05_attention_error import log_ticks
    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    ax1, ax2 = fig.subplots(1, 2)
    sigma_frame = Affine2D()                                     # log10(σ_i / σ_1) -> the axes' 0..1 (update())
    sigma, = ax1.plot([], [], "k.-", ms=4, transform=blended_transform_factory(IdentityTransform(), LogTransform(10))
                      + sigma_frame + ax1.transData)
    ax1.set_ylim(0, 1)
    k1 = ax1.axvline(result["k"], color="tab:orange", ls="--", lw=1.5)
    ax1.set_xlabel("index i")
    ax1.set_ylabel("σ_i / σ_1 of P")
    title1 = ax1.set_title("")
    curves = [ax2.loglog([], [], "k" + st, mfc="white", ms=5, label=LABELS.get(name, name))[0]
              for name, st in zip(result["errors"], ("o-", "s--", "^:", "d-."))]
    k2 = ax2.axvline(result["k"], color="tab:orange", ls="--", lw=1.5)
    ax2.set_ylim(*ERROR_LIMITS)                     # the x limits and the σ axis's: update()
    for axis in (ax2.xaxis, ax2.yaxis):
        log_ticks(axis)
    ax2.yaxis.set_major_locator(FixedLocator(ERROR_TICKS))          # 21 decades: every third power of ten
    ax2.set_xlabel("k")
    ax2.set_ylabel("‖P̃V − PV‖ / ‖PV‖")
    ax2.legend(loc="lower center", bbox_to_anchor=(0.45, 1.0), ncol=2, frameon=False, columnspacing=0.6,
               handlelength=1.8)                             # above the axes, never over a curve
    title = fig.suptitle("", x=0.01, ha="left")
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.15, top=0.74, wspace=0.32)
    fig._linattn = dict(axes=(ax1, ax2), sigma=sigma, curves=curves, ks=(k1, k2), titles=(title1, title),
                        sigma_frame=sigma_frame)
    update(fig, result)
    return fig


def update(fig, result):
    """New data in the same artists, for every control; the σ axis's floor through its transform and ticks. When
    n leaves its power-of-two frame, the x limits are set here and the renderer re-takes its background (no
    rebuild)."""
    from matplotlib.ticker import FixedFormatter, FixedLocator
    a = getattr(fig, "_linattn", None)
    if a is None:
        return False
    ax1, ax2 = a["axes"]
    frame = _frame(result["n"])
    ax1.set_xlim(1 - 0.03 * frame, 1.03 * frame)
    lo, hi = 1.01 * _sigma_floor(result), 2.0        # the decade's own tick (and its wide label) left out
    a["sigma_frame"].clear().translate(0, -math.log10(lo)).scale(1, 1 / (math.log10(hi) - math.log10(lo)))
    ticks, labels = _sigma_ticks(lo, hi)
    span = math.log10(hi) - math.log10(lo)
    ax1.yaxis.set_major_locator(FixedLocator([(t - math.log10(lo)) / span for t in ticks]))
    ax1.yaxis.set_major_formatter(FixedFormatter(labels))
    ax2.set_xlim(2 / 1.25, 1.25 * frame)
    s = result["singular_values"]
    a["sigma"].set_data(np.arange(1, s.size + 1), s / s[0])
    for line, e in zip(a["curves"], result["errors"].values()):
        line.set_data(result["ks"], np.maximum(e, 1e-17))
    for line in a["ks"]:
        line.set_xdata([result["k"]] * 2)
    title1, title = a["titles"]
    title1.set_text(f"{100 * result['energy_at_k']:.1f}% of ‖P‖²_F in the first k")
    title.set_text(_suptitle(result))
    return [ax1.yaxis, a["sigma"], a["ks"][0], *a["curves"], a["ks"][1], title1, title]
