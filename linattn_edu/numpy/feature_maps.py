"""Deterministic feature maps phi with sim(q, k) = phi(q) . phi(k) >= 0 (Katharopoulos et al. 2020).

Each maps x: (..., d) to phi(x): (..., m), row by row.
"""
import numpy as np

from .._checks import check_array


def elu_plus_one(x):
    """phi(x) = elu(x) + 1 = x + 1 for x > 0, exp(x) otherwise (Katharopoulos et al. 2020, Eq. 7).  m = d."""
    check_array("x", x, "numpy")
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def relu_features(x):
    """phi(x) = max(x, 0) (Performer's generalised ReLU attention).  m = d.

    A query whose features are all zero has zero similarity to every key; the attention functions
    return 0 for such a row instead of 0/0 = NaN.
    """
    check_array("x", x, "numpy")
    return np.maximum(x, 0.0)


def taylor_features(x):
    """Based's 2nd-order Taylor map phi(x) = [1, x, vec(x x^T)/sqrt(2)], m = 1 + d + d^2.

    phi(q) . phi(k) = 1 + q.k + (q.k)^2 / 2 exactly, the Taylor expansion of exp(q.k) to 2nd order
    (always >= 1/2, so it is a valid non-negative similarity).
    """
    check_array("x", x, "numpy")
    d = x.shape[-1]
    outer = np.einsum("...i,...j->...ij", x, x).reshape(*x.shape[:-1], d * d)   # (..., d*d); no -1: n may be 0
    ones = np.ones(x.shape[:-1] + (1,), dtype=x.dtype)
    return np.concatenate([ones, x, outer / np.sqrt(2.0)], axis=-1)
