"""The delta rule (DeltaNet): the state as an associative memory that *corrects* what it stores.

Glossary (column vectors; S has shape (d_k, d_v) as in gating.py, so o_t = S_t^T q_t):

    k_t    (d_k,)   key (usually L2-normalised, ||k_t|| = 1, so that beta_t = 1 overwrites exactly)
    v_t    (d_v,)   value to store under k_t
    beta_t scalar   writing strength ("learning rate" of one online least-squares step)
    S_t    (d_k, d_v)

    S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T          (read the old value, write the error)
        = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T        (a generalised Householder transition)
    o_t = S_t^T q_t

It is one gradient step, step size beta_t, on the loss 1/2 ||S^T k_t - v_t||^2. The transition
I - beta k k^T has eigenvalue 1 (d_k - 1 times, on the hyperplane orthogonal to k) and 1 - beta ||k||^2
(along k). A secondary source quotes the DeltaNet paper as printing 1 - beta ||k|| (the two agree when
||k|| = 1); notebook 08 checks the eigenvalues numerically. With 0 <= beta ||k||^2 <= 2 no step enlarges
the state, so it grows at most linearly (by the beta k v^T terms); beta ||k||^2 > 2 can grow it exponentially.

Chunkwise form with the WY / UT representation (Yang et al. 2024, Eq. 6-11), chunks of C tokens,
K, V, Q the chunk's rows, S the state before the chunk:

    T = (I + tril(diag(beta) K K^T, -1))^{-1} diag(beta)      (C, C), by forward substitution
    W = T K     (C, d_k)          U = T V     (C, d_v)
    prod_{i<=C} (I - beta_i k_i k_i^T) = I - K^T W, and the "pseudo-values"
    U - W S     (C, d_v)          (what each token writes, once the chunk's earlier writes are known)
    O       = Q S + (Q K^T ∘ M)(U - W S)          M lower triangular, diagonal included
    S_next  = S + K^T (U - W S)

C = 1 is the recurrence. The inter-chunk loop (S -> S_next) is inherent: the transition depends on S.
"""
import numpy as np

from .reassociation import causal_matmul
from .._checks import check_qkv, check_causal_lengths, check_positive_int, check_gate, check_matrix_state


def _validate(q, k, v, beta, chunk_size, state):
    check_qkv(q, k, v, "numpy")
    check_causal_lengths(q, k)
    check_gate("beta", beta, k, per_feature_ok=False, backend="numpy")
    if not np.isfinite(beta).all():
        raise ValueError("beta must be finite (got NaN or inf); beta is usually sigmoid(x) in (0, 1) or 2 sigmoid(x) in (0, 2)")
    check_positive_int("chunk_size", chunk_size, allow_none=True)
    check_matrix_state(state, k.shape[:-2], k.shape[-1], v.shape[-1], "numpy")


def delta_rule_attention(q, k, v, beta, chunk_size=None, state=None):
    """S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T, o_t = S_t^T q_t.

    q, k: (..., n, d_k), v: (..., n, d_v), beta: (..., n). state: S (..., d_k, d_v) or None for 0.
    chunk_size: None runs the recurrence; an integer C the chunkwise WY/UT form (any n).
    Returns (out (..., n, d_v), S_final (..., d_k, d_v)).

    Validated: shapes, finiteness. Not validated: the range of beta. The recurrence is stable when
    0 <= beta_t ||k_t||^2 <= 2 (DeltaNet uses beta = sigmoid(.) in (0, 1) and unit-norm keys); other
    values are allowed (a notebook shows what happens) but the state can then grow without bound.
    """
    _validate(q, k, v, beta, chunk_size, state)
    S = np.zeros(k.shape[:-2] + (k.shape[-1], v.shape[-1]), dtype=v.dtype) if state is None \
        else np.array(state, dtype=v.dtype)
    if chunk_size is None:
        return _recurrent(q, k, v, beta, S)
    return _chunked(q, k, v, beta, chunk_size, S)


def _recurrent(q, k, v, beta, S):
    out = np.empty(v.shape, dtype=v.dtype)
    for t in range(k.shape[-2]):
        kt, vt, bt = k[..., t, :], v[..., t, :], beta[..., t, None]
        old = np.einsum("...k,...kv->...v", kt, S)                      # S_{t-1}^T k_t: what the memory recalls
        S = S + kt[..., :, None] * (bt * (vt - old))[..., None, :]      # + beta_t k_t (v_t - old)^T
        out[..., t, :] = np.einsum("...k,...kv->...v", q[..., t, :], S)
    return out, S


def wy_representation(k, v, beta):
    """W = T K and U = T V of one chunk, by the forward substitution of DeltaNet Eq. 6-7.

    k: (..., C, d_k), v: (..., C, d_v), beta: (..., C) -> W: (..., C, d_k), U: (..., C, d_v).
        w_r = beta_r (k_r - sum_{i<r} (k_i . k_r) w_i),    u_r = beta_r (v_r - sum_{i<r} (k_i . k_r) u_i)
    so that prod_{i<=r} (I - beta_i k_i k_i^T) = I - sum_{i<=r} k_i w_i^T (rows: K^T W).
    """
    C = k.shape[-2]
    gram = k @ np.swapaxes(k, -1, -2)                                   # (..., C, C), k_i . k_r
    W = np.zeros_like(k)
    U = np.zeros_like(v)
    for r in range(C):
        g = gram[..., :r, r]                                            # (..., r): k_i . k_r for i < r
        W[..., r, :] = beta[..., r, None] * (k[..., r, :] - np.einsum("...i,...id->...d", g, W[..., :r, :]))
        U[..., r, :] = beta[..., r, None] * (v[..., r, :] - np.einsum("...i,...id->...d", g, U[..., :r, :]))
    return W, U


def _chunked(q, k, v, beta, C, S):
    n = k.shape[-2]
    out = np.empty(v.shape, dtype=v.dtype)
    for start in range(0, n, C):
        sl = slice(start, min(start + C, n))
        qc, kc, vc = q[..., sl, :], k[..., sl, :], v[..., sl, :]
        W, U = wy_representation(kc, vc, beta[..., sl])
        pseudo = U - W @ S                                              # (..., c, d_v): U - W S
        scores = np.tril(qc @ np.swapaxes(kc, -1, -2))                  # (Q K^T ∘ M), (..., c, c)
        out[..., sl, :] = qc @ S + causal_matmul(scores, pseudo)       # scores @ pseudo, row i reading rows j <= i
        S = S + np.swapaxes(kc, -1, -2) @ pseudo                        # S + K^T (U - W S)
    return out, S
