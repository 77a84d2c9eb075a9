"""Softmax attention, the O(n^2) baseline every other form is compared with.

    A_ij = exp(q_i . k_j * scale) / sum_l exp(q_i . k_l * scale),    out_i = sum_j A_ij v_j

with scale = 1/sqrt(d) by default and, when causal, A_ij = 0 for j > i (the scores are replaced by
-inf there, a selection: a NaN or inf in a later key or value never reaches an earlier row).
"""
import numpy as np

from .._checks import check_array, check_qkv, check_causal_lengths, check_scale, check_causal
from .reassociation import causal_matmul


def attention_weights(q, k, causal=False, scale=None):
    """The (..., n_q, n) matrix A = softmax(q k^T * scale) of attention weights (rows sum to 1).

    q: (..., n_q, d), k: (..., n, d). causal=True sets A_ij = 0 for j > i (needs n_q == n).
    The row maximum is subtracted before exp, which cancels exactly and keeps exp finite.
    """
    check_array("q", q, "numpy", min_ndim=2)
    check_array("k", k, "numpy", min_ndim=2)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the last dimension d (got q: {q.shape}, k: {k.shape})")
    if q.shape[-1] == 0:
        raise ValueError(f"q and k must have d >= 1 features in their last dimension (got q: {q.shape}, k: {k.shape})")
    check_scale(scale)
    check_causal(causal)
    if causal:
        check_causal_lengths(q, k)
    if scale is None:
        scale = 1.0 / np.sqrt(q.shape[-1])
    scores = np.einsum("...id,...jd->...ij", q, k) * scale          # (..., n_q, n)
    if scores.shape[-1] == 0:                                       # no keys: an empty (..., n_q, 0) matrix
        return scores
    if causal:
        n = q.shape[-2]
        scores = np.where(np.tril(np.ones((n, n), dtype=bool)), scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)            # stabiliser: cancels in the ratio
    a = np.exp(scores)
    return a / a.sum(axis=-1, keepdims=True)


def softmax_attention(q, k, v, causal=False, scale=None):
    """out = softmax(q k^T * scale) v.   q: (..., n_q, d), k: (..., n, d), v: (..., n, d_v) -> (..., n_q, d_v)."""
    check_qkv(q, k, v, "numpy")
    a = attention_weights(q, k, causal=causal, scale=scale)          # (..., n_q, n)
    return causal_matmul(a, v) if causal else a @ v                  # (..., n_q, n) @ (..., n, d_v)
