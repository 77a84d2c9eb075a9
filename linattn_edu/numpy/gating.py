"""Linear attention with decay (gating): RetNet, GLA, Mamba-2/SSD, in one recurrence.

Glossary (the convention of GLA, RetNet, Mamba-2 and DeltaNet, written with column vectors):

    q_t, k_t  (d_k,)      query and key of token t (no feature map: pass phi(q), phi(k) if you want one)
    v_t       (d_v,)      value of token t
    a_t       scalar in [0, 1] (or a vector (d_k,) of per-feature gates): how much of the state survives step t
    log a_t   given per step as ``log_decay`` (<= 0); a_t = exp(log_decay_t)
    S_t       (d_k, d_v)  the state

    S_t = a_t S_{t-1} + k_t v_t^T          (per-feature gates: S_t = diag(a_t) S_{t-1} + k_t v_t^T)
    o_t = S_t^T q_t                        unnormalised: no denominator z_t . q_t

a_t = 1 for every t is plain (unnormalised) causal linear attention. Unrolling the recurrence gives
the "attention" (quadratic) form of state-space duality (Dao & Gu 2024):

    o_i = sum_{j <= i} L_ij (q_i . k_j) v_j,     L_ij = prod_{j < t <= i} a_t = exp(B_i - B_j),
    B_i = sum_{t <= i} log a_t,    i.e.  O = (L ∘ Q K^T) V.

Chunkwise (chunks of C tokens, b the cumulative log-decay *inside* the chunk, S the state before it):

    O_[c]   = diag(exp(b)) Q S  +  (exp(b_i - b_j) [i >= j] ∘ Q K^T) V
    S_[c+1] = exp(b_C) S  +  sum_j exp(b_C - b_j) k_j v_j^T

Every exponent above is <= 0, so nothing overflows and nothing is 0/0, however long the sequence
(the naive form exp(B_i) / exp(B_j) underflows to 0/0 = NaN once B is below about -745 in float64).
Real kernels have failed here: in flash-linear-attention issue #77 exp overflowed on a positive
exponent coming from an exclusive cumulative decay, and issue #122 reported a NaN in fused_chunk_gla
at 43,884 tokens, fixed by a later commit. Masked entries (i < j) are set to -inf *before* exp, and
the masked scores are then selected away (np.where), never multiplied by 0, so a NaN or inf in a
later key or value cannot reach an earlier output.
"""
import numpy as np

from .reassociation import causal_matmul
from .._checks import check_qkv, check_causal_lengths, check_positive_int, check_array, check_gate, check_matrix_state


def _check_log_decay(log_decay):
    if not np.isfinite(log_decay).all() or (log_decay > 0).any():
        bad = log_decay[~(np.isfinite(log_decay) & (log_decay <= 0))].ravel()[0]
        raise ValueError(f"log_decay must be finite and <= 0 (a_t = exp(log_decay) in (0, 1]) (got a value "
                         f"{bad!r}); use log_decay = log(a), e.g. -softplus(x); for a full reset use a large "
                         f"negative number such as -1e4 rather than -inf")


def _validate(q, k, v, log_decay, chunk_size, state):
    check_qkv(q, k, v, "numpy")
    check_causal_lengths(q, k)
    per_feature = check_gate("log_decay", log_decay, k, per_feature_ok=True, backend="numpy")
    _check_log_decay(log_decay)
    check_positive_int("chunk_size", chunk_size, allow_none=True)
    check_matrix_state(state, k.shape[:-2], k.shape[-1], v.shape[-1], "numpy")
    return per_feature


def decay_mask(log_decay):
    """The decay mask of the quadratic form: L_ij = prod_{j < t <= i} a_t for i >= j, else 0.

    log_decay: (..., n) -> L: (..., n, n). Computed as exp(B_i - B_j) with B = cumsum(log a),
    the masked entries set to -inf before exp (so exp never sees a positive exponent).
    """
    check_array("log_decay", log_decay, "numpy", min_ndim=1)
    _check_log_decay(log_decay)
    B = np.cumsum(log_decay, axis=-1)                                   # (..., n)
    n = B.shape[-1]
    causal = np.tril(np.ones((n, n), dtype=bool))
    diff = np.where(causal, B[..., :, None] - B[..., None, :], -np.inf)  # (..., n, n), B_i - B_j
    return np.exp(diff)


def decayed_linear_attention(q, k, v, log_decay, chunk_size=None, state=None):
    """S_t = a_t S_{t-1} + k_t v_t^T, o_t = S_t^T q_t, with a_t = exp(log_decay_t).

    q, k: (..., n, d_k), v: (..., n, d_v), log_decay: (..., n) (one gate per token) or (..., n, d_k)
    (one gate per key feature, GLA). state: S (..., d_k, d_v) from a previous call, or None for 0.
    chunk_size: None runs the recurrence token by token; an integer C runs the chunkwise form
    (any n: the last chunk is shorter). Returns (out (..., n, d_v), S_final (..., d_k, d_v)).
    """
    per_feature = _validate(q, k, v, log_decay, chunk_size, state)
    if chunk_size is None:
        return _recurrent(q, k, v, log_decay, per_feature, state)
    return _chunked(q, k, v, log_decay, per_feature, chunk_size, state)


def _initial(state, k, v):
    shape = k.shape[:-2] + (k.shape[-1], v.shape[-1])
    return np.zeros(shape, dtype=v.dtype) if state is None else np.array(state, dtype=v.dtype)


def _recurrent(q, k, v, log_decay, per_feature, state):
    S = _initial(state, k, v)                                           # (..., d_k, d_v)
    out = np.empty(v.shape, dtype=v.dtype)
    for t in range(k.shape[-2]):
        a = np.exp(log_decay[..., t, :, None] if per_feature else log_decay[..., t, None, None])
        S = a * S + k[..., t, :, None] * v[..., t, None, :]             # S_t = a_t S_{t-1} + k_t v_t^T
        out[..., t, :] = np.einsum("...k,...kv->...v", q[..., t, :], S)  # o_t = S_t^T q_t
    return out, S


def _chunked(q, k, v, log_decay, per_feature, C, state):
    S = _initial(state, k, v)
    n = k.shape[-2]
    out = np.empty(v.shape, dtype=v.dtype)
    for start in range(0, n, C):
        sl = slice(start, min(start + C, n))
        qc, kc, vc = q[..., sl, :], k[..., sl, :], v[..., sl, :]        # (..., c, d_k), (..., c, d_k), (..., c, d_v)
        b = np.cumsum(log_decay[..., sl, :] if per_feature else log_decay[..., sl], axis=-2 if per_feature else -1)
        c = kc.shape[-2]
        causal = np.tril(np.ones((c, c), dtype=bool))
        if per_feature:                                                 # b: (..., c, d_k)
            diff = b[..., :, None, :] - b[..., None, :, :]              # (..., c, c, d_k), b_i - b_j
            diff = np.where(causal[..., None], diff, -np.inf)
            scores = np.where(causal, np.einsum("...ik,...jk,...ijk->...ij", qc, kc, np.exp(diff)), 0.0)
            inter = (qc * np.exp(b)) @ S                                # (..., c, d_k) @ (..., d_k, d_v)
            k_to_end = kc * np.exp(b[..., -1:, :] - b)                  # k_j ⊙ exp(b_C - b_j)
            S = np.exp(b[..., -1, :])[..., :, None] * S + np.swapaxes(k_to_end, -1, -2) @ vc
        else:                                                           # b: (..., c)
            diff = np.where(causal, b[..., :, None] - b[..., None, :], -np.inf)
            scores = np.where(causal, np.exp(diff) * (qc @ np.swapaxes(kc, -1, -2)), 0.0)   # (L ∘ Q K^T): (..., c, c)
            inter = np.exp(b)[..., :, None] * (qc @ S)
            k_to_end = kc * np.exp(b[..., -1:] - b)[..., :, None]
            S = np.exp(b[..., -1])[..., None, None] * S + np.swapaxes(k_to_end, -1, -2) @ vc
        out[..., sl, :] = inter + causal_matmul(scores, vc)             # scores @ vc, row i reading v_j, j <= i
    return out, S
