"""The gated delta rule (Gated DeltaNet): a decay that forgets everything a little, a delta rule that edits one key.

Glossary (column vectors; S has shape (d_k, d_v) as in gating.py and delta_rule.py, so o_t = S_t^T q_t):

    k_t    (d_k,)   key (usually L2-normalised)
    v_t    (d_v,)   value
    beta_t scalar   writing strength of the delta rule
    a_t    scalar   decay, given as log_decay_t = log a_t <= 0 (the convention of decayed_linear_attention)
    S_t    (d_k, d_v)

    S_t = a_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T                (Yang, Kautz, Hatamizadeh 2025)
        = S' + beta_t k_t (v_t - S'^T k_t)^T   with S' = a_t S_{t-1}            (decay first, then one delta step)
    o_t = S_t^T q_t

(The paper writes S in R^{d_v x d_k}: S_t = S_{t-1} (a_t (I - beta_t k_t k_t^T)) + beta_t v_t k_t^T; ours is its transpose.)
a_t = 1 is the delta rule; keys orthogonal to every earlier key make the erase term vanish, and the layer is
decayed linear attention with values beta_t v_t.

Chunkwise form (chunks of C tokens; K, V, Q the chunk's rows; b_i = sum_{t <= i} log a_t inside the chunk,
gamma_i = exp(b_i); Gamma_ij = exp(b_i - b_j) for i >= j; S the state entering the chunk). The state after r
tokens of the chunk is gamma_r S + sum_{i <= r} (gamma_r / gamma_i) k_i u_i^T, where the pseudo-values u solve

    u_r = beta_r (v_r - gamma_r S^T k_r - sum_{i<r} Gamma_ri (k_i . k_r) u_i)

that is, with T = (I + tril(diag(beta) (Gamma ∘ K K^T), -1))^{-1} diag(beta)   (the UT transform with decay):

    W = T diag(gamma) K   (C, d_k)        U = T V   (C, d_v)        pseudo-values U - W S
    O      = diag(gamma) Q S + (Gamma ∘ Q K^T ∘ M)(U - W S)       M: causal mask, diagonal included
    S_next = gamma_C S + (diag(gamma_C / gamma) K)^T (U - W S)

Every exponent is <= 0 (masked entries set to -inf before exp). C = 1 is the recurrence; a_t = 1 gives
delta_rule.py's chunked form (gamma = Gamma = 1).
"""
import numpy as np

from .._checks import check_qkv, check_causal_lengths, check_positive_int, check_gate, check_matrix_state
from .gating import _check_log_decay


def _validate(q, k, v, beta, log_decay, chunk_size, state):
    check_qkv(q, k, v, "numpy")
    check_causal_lengths(q, k)
    check_gate("beta", beta, k, per_feature_ok=False, backend="numpy")
    if not np.isfinite(beta).all():
        raise ValueError("beta must be finite (got NaN or inf); beta is usually sigmoid(x) in (0, 1) or 2 sigmoid(x) in (0, 2)")
    check_gate("log_decay", log_decay, k, per_feature_ok=False, backend="numpy")
    _check_log_decay(log_decay)
    check_positive_int("chunk_size", chunk_size, allow_none=True)
    check_matrix_state(state, k.shape[:-2], k.shape[-1], v.shape[-1], "numpy")


def gated_delta_rule_attention(q, k, v, beta, log_decay, chunk_size=None, state=None):
    """S_t = a_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T, o_t = S_t^T q_t, a_t = exp(log_decay_t).

    q, k: (..., n, d_k), v: (..., n, d_v), beta: (..., n), log_decay: (..., n) (one scalar gate per token,
    <= 0). state: S (..., d_k, d_v) or None for 0. chunk_size: None runs the recurrence; an integer C the
    chunkwise WY/UT form with decay (any n). Returns (out (..., n, d_v), S_final (..., d_k, d_v)).

    Validated: shapes, finiteness, log_decay <= 0. Not validated: the range of beta (beta ||k||^2 in
    [0, 2] keeps every transition a non-expansion; (1, 2] gives the negative eigenvalues of notebook 08).
    """
    _validate(q, k, v, beta, log_decay, chunk_size, state)
    S = np.zeros(k.shape[:-2] + (k.shape[-1], v.shape[-1]), dtype=v.dtype) if state is None \
        else np.array(state, dtype=v.dtype)
    if chunk_size is None:
        return _recurrent(q, k, v, beta, log_decay, S)
    return _chunked(q, k, v, beta, log_decay, chunk_size, S)


def _recurrent(q, k, v, beta, log_decay, S):
    out = np.empty(v.shape, dtype=v.dtype)
    for t in range(k.shape[-2]):
        kt, vt, bt = k[..., t, :], v[..., t, :], beta[..., t, None]
        S = np.exp(log_decay[..., t, None, None]) * S                   # S' = a_t S_{t-1}: forget first
        old = np.einsum("...k,...kv->...v", kt, S)                      # S'^T k_t: what the decayed memory recalls
        S = S + kt[..., :, None] * (bt * (vt - old))[..., None, :]      # + beta_t k_t (v_t - old)^T
        out[..., t, :] = np.einsum("...k,...kv->...v", q[..., t, :], S)
    return out, S


def gated_wy_representation(k, v, beta, b):
    """W = T diag(gamma) K and U = T V of one chunk, by forward substitution.

    k: (..., C, d_k), v: (..., C, d_v), beta: (..., C), b: (..., C) the cumulative log-decay inside the chunk.
        w_r = beta_r (gamma_r k_r - sum_{i<r} Gamma_ri (k_i . k_r) w_i),   u_r = beta_r (v_r - sum_{i<r} Gamma_ri (k_i . k_r) u_i)
    """
    C = k.shape[-2]
    gram = k @ np.swapaxes(k, -1, -2)                                   # (..., C, C), k_i . k_r
    W = np.zeros_like(k)
    U = np.zeros_like(v)
    for r in range(C):
        g = np.exp(b[..., r, None] - b[..., :r]) * gram[..., :r, r]      # (..., r): Gamma_ri (k_i . k_r), i < r
        W[..., r, :] = beta[..., r, None] * (np.exp(b[..., r, None]) * k[..., r, :]
                                             - np.einsum("...i,...id->...d", g, W[..., :r, :]))
        U[..., r, :] = beta[..., r, None] * (v[..., r, :] - np.einsum("...i,...id->...d", g, U[..., :r, :]))
    return W, U


def _chunked(q, k, v, beta, log_decay, C, S):
    n = k.shape[-2]
    out = np.empty(v.shape, dtype=v.dtype)
    for start in range(0, n, C):
        sl = slice(start, min(start + C, n))
        qc, kc, vc = q[..., sl, :], k[..., sl, :], v[..., sl, :]
        b = np.cumsum(log_decay[..., sl], axis=-1)                      # (..., c): log gamma
        c = kc.shape[-2]
        causal = np.tril(np.ones((c, c), dtype=bool))
        Gamma = np.exp(np.where(causal, b[..., :, None] - b[..., None, :], -np.inf))   # (..., c, c), 0 above
        W, U = gated_wy_representation(kc, vc, beta[..., sl], b)
        pseudo = U - W @ S                                              # (..., c, d_v): U - W S
        scores = Gamma * (qc @ np.swapaxes(kc, -1, -2))                 # (Gamma ∘ Q K^T ∘ M)
        out[..., sl, :] = np.exp(b)[..., :, None] * (qc @ S) + scores @ pseudo
        k_to_end = kc * np.exp(b[..., -1:] - b)[..., :, None]           # k_j gamma_C / gamma_j
        S = np.exp(b[..., -1])[..., None, None] * S + np.swapaxes(k_to_end, -1, -2) @ pseudo
    return out, S
