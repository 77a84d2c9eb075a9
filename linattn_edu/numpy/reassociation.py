"""Kernel attention before and after reassociation: (phi(Q) phi(K)^T) V = phi(Q) (phi(K)^T V).

    out_i = sum_j sim_ij v_j / sum_j sim_ij,     sim_ij = phi(q_i) . phi(k_j)   (j <= i when causal)

``kernel_attention`` builds the (n, n) similarity matrix (O(n^2 m)); ``linear_attention`` never does
(O(n m d_v)). They are equal up to rounding (tests/test_reassociation.py).

A row whose similarities are all zero (possible with relu_features) has 0/0; both forms return 0
for that row instead of NaN.

Causal masks select, they never multiply: np.tril / np.where put exact zeros above the diagonal,
and ``causal_matmul`` keeps a NaN or inf in v_j out of the rows i < j (0 * NaN is NaN), so a
non-finite value at token t can only reach the outputs at t and later.
"""
import numpy as np

from .._checks import check_qkv, check_causal_lengths, check_phi, check_features, check_causal
from . import feature_maps

FEATURE_MAPS = {"elu_plus_one": feature_maps.elu_plus_one, "relu_features": feature_maps.relu_features,
                "taylor_features": feature_maps.taylor_features}


def _features(q, k, v, phi, causal):
    check_qkv(q, k, v, "numpy")
    check_causal(causal)
    if causal:
        check_causal_lengths(q, k)
    phi = check_phi(phi, FEATURE_MAPS)
    phi_q, phi_k = phi(q), phi(k)
    check_features(phi_q, phi_k, q, k, "numpy")
    return phi_q, phi_k


def _safe_divide(num, den):
    """num / den, with 0 where den == 0 (a row with no similarity mass)."""
    den = np.asarray(den)
    safe = np.where(den == 0, 1.0, den)
    return np.where(den == 0, 0.0, num / safe)


def causal_matmul(A, V):
    """A @ V for a lower-triangular A (A_ij = 0 for j > i) in which row i reads v_j for j <= i only.

    A: (..., n, n), V: (..., n, d_v) -> (..., n, d_v). A plain matmul also multiplies the zeros above
    the diagonal by v_j, and 0 * NaN = 0 * inf = NaN: one non-finite v_j would spoil every row. Here
        A @ V  =  A @ V_finite  +  cumsum_i(V_nonfinite)
    V_finite has the non-finite entries replaced by 0; V_nonfinite holds them (0 elsewhere), and its
    running sum down the rows carries each one to rows i >= j only, where the row is then non-finite
    as in the recurrence. For finite V the second term is exactly 0.
    """
    finite = np.isfinite(V)
    return A @ np.where(finite, V, 0.0) + np.cumsum(np.where(finite, 0.0, V), axis=-2)


def kernel_attention(q, k, v, phi, causal=False):
    """The quadratic form: out = D^-1 (phi(Q) phi(K)^T ⊙ M) V with D = diag((phi(Q) phi(K)^T ⊙ M) 1).

    q: (..., n_q, d), k: (..., n, d), v: (..., n, d_v); phi: callable or feature map name.
    M is the causal (lower-triangular, diagonal included) mask when causal, else all ones.
    """
    phi_q, phi_k = _features(q, k, v, phi, causal)
    sim = phi_q @ np.swapaxes(phi_k, -1, -2)                  # (..., n_q, m) @ (..., m, n) -> (..., n_q, n)
    if not causal:
        return _safe_divide(sim @ v, sim.sum(axis=-1, keepdims=True))
    sim = np.tril(sim)                                        # selects: exact zeros above the diagonal
    return _safe_divide(causal_matmul(sim, v), sim.sum(axis=-1, keepdims=True))


def linear_attention(q, k, v, phi, causal=False):
    """The reassociated form: out_i = phi(q_i)^T S / phi(q_i)^T z, never forming the (n, n) matrix.

    Non-causal: S = phi(K)^T V (m, d_v) and z = phi(K)^T 1 (m,), shared by every query.
    Causal: prefix sums S_i = sum_{j<=i} phi(k_j) v_j^T, z_i = sum_{j<=i} phi(k_j). Here they are
    materialised with cumsum, an (..., n, m, d_v) tensor: the memory cost notebook 03 measures; the
    recurrent and chunked forms in ``causal.py`` avoid it.
    """
    phi_q, phi_k = _features(q, k, v, phi, causal)
    return linear_attention_from_features(phi_q, phi_k, v, causal)


def linear_attention_from_features(phi_q, phi_k, v, causal=False):
    """``linear_attention`` on features already computed: phi_q: (..., n_q, m), phi_k: (..., n, m)."""
    if not causal:
        S = np.swapaxes(phi_k, -1, -2) @ v                    # (..., m, n) @ (..., n, d_v) -> (..., m, d_v)
        z = phi_k.sum(axis=-2)                                # (..., m)
        num = phi_q @ S                                       # (..., n, d_v)
        den = phi_q @ z[..., None]                            # (..., n, 1)
        return _safe_divide(num, den)
    S = np.cumsum(np.einsum("...jm,...je->...jme", phi_k, v), axis=-3)   # (..., n, m, d_v)
    z = np.cumsum(phi_k, axis=-2)                                         # (..., n, m)
    num = np.einsum("...im,...ime->...ie", phi_q, S)                      # (..., n, d_v)
    den = np.einsum("...im,...im->...i", phi_q, z)[..., None]             # (..., n, 1)
    return _safe_divide(num, den)
