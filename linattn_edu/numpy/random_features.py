"""Random features for the softmax kernel SM(x, y) = exp(x . y) (Performer, Choromanski et al. 2021).

With rows w_1..w_m of w drawn from N(0, I_d), each map below satisfies E[phi(x) . phi(y)] = exp(x . y):

    trig        phi(x) = exp(|x|^2/2) / sqrt(m) [sin(w x), cos(w x)]            (2m features; Bochner)
    positive    phi(x) = exp(w x - |x|^2/2) / sqrt(m)                           (m features; Lemma 1)
    hyperbolic  phi(x) = exp(-|x|^2/2) / sqrt(2m) [exp(w x), exp(-w x)]          (2m features)

Their exact mean squared errors are in ``linattn_edu.theory`` (Lemma 2).
"""
import numpy as np

from .._checks import check_array, check_positive_int, check_projection, check_seed


def gaussian_projection(m, d, orthogonal=False, seed=None):
    """w: (m, d) with rows w_i ~ N(0, I_d).

    orthogonal=True gives block-orthogonal rows (Performer's ORFs): each block of d rows is Q from the
    QR decomposition of a d x d Gaussian matrix, with the sign fix Q <- Q diag(sign(diag R)) that makes
    Q Haar-distributed; then each row is rescaled to a norm drawn from the chi(d) distribution, so each
    row is still marginally N(0, I_d) while rows inside a block are exactly orthogonal. m > d stacks
    ceil(m/d) independent blocks and keeps the first m rows.
    """
    check_positive_int("m", m)
    check_positive_int("d", d)
    rng = np.random.default_rng(check_seed(seed))   # None or an integer in [0, 2**63), as in the torch mirror
    if not orthogonal:
        return rng.standard_normal((m, d))
    blocks = []
    for _ in range(-(-m // d)):                       # ceil(m / d) independent blocks
        g = rng.standard_normal((d, d))
        qmat, r = np.linalg.qr(g)
        qmat = qmat * np.sign(np.diag(r))             # sign fix: column j times sign(R_jj)
        blocks.append(qmat.T)                         # rows orthonormal
    rows = np.concatenate(blocks, axis=0)[:m]         # (m, d), unit rows
    norms = np.linalg.norm(rng.standard_normal((m, d)), axis=1)   # chi(d) samples
    return rows * norms[:, None]


def trig_features(x, w):
    """phi(x) = exp(|x|^2/2)/sqrt(m) [sin(w x), cos(w x)].  x: (..., d), w: (m, d) -> (..., 2m).

    phi(x).phi(y) = exp((|x|^2+|y|^2)/2) mean_i cos(w_i.(x - y)): unbiased for exp(x.y), but it can be
    negative, and its variance explodes where exp(x.y) is small (Lemma 2).
    """
    check_array("x", x, "numpy")
    check_projection("w", w, x.shape[-1], "numpy")
    m = w.shape[0]
    wx = x @ w.T                                                     # (..., m)
    h = np.exp(0.5 * np.sum(x * x, axis=-1, keepdims=True)) / np.sqrt(m)
    return h * np.concatenate([np.sin(wx), np.cos(wx)], axis=-1)


def positive_features(x, w):
    """phi(x) = exp(w x - |x|^2/2)/sqrt(m).  x: (..., d), w: (m, d) -> (..., m).  Lemma 1: always > 0."""
    check_array("x", x, "numpy")
    check_projection("w", w, x.shape[-1], "numpy")
    m = w.shape[0]
    wx = x @ w.T                                                     # (..., m)
    return np.exp(wx - 0.5 * np.sum(x * x, axis=-1, keepdims=True)) / np.sqrt(m)


def hyperbolic_features(x, w):
    """phi(x) = exp(-|x|^2/2)/sqrt(2m) [exp(w x), exp(-w x)].  x: (..., d), w: (m, d) -> (..., 2m).

    phi(x).phi(y) = exp(-(|x|^2+|y|^2)/2) mean_i cosh(w_i.(x + y)); lower variance than positive features.
    """
    check_array("x", x, "numpy")
    check_projection("w", w, x.shape[-1], "numpy")
    m = w.shape[0]
    wx = x @ w.T
    h = np.exp(-0.5 * np.sum(x * x, axis=-1, keepdims=True)) / np.sqrt(2 * m)
    return h * np.concatenate([np.exp(wx), np.exp(-wx)], axis=-1)
