"""The gated delta rule (Gated DeltaNet), torch mirror of linattn_edu.numpy.gated_delta.

    S_t = a_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T,   o_t = S_t^T q_t,   a_t = exp(log_decay_t)

chunk_size None runs the recurrence; an integer chunk_size runs the fast chunkwise path,
linattn_edu.torch.chunkwise_fast (the same WY/UT form with decay, the loop over chunks replaced by a blocked
affine scan of ~2 sqrt(N) batched steps, S_[c+1] = (gamma_C I - (diag(gamma_C / gamma) K)^T W) S_[c]
+ (diag(gamma_C / gamma) K)^T U, bfloat16 matmul operands with float32 sums). The readable chunked form it
is tested against is ``_chunked`` below (``_gated_delta_chunked_reference`` with the public arguments):

Chunked form, C = chunk_size, N = ceil(n / C) chunks, b the cumulative log-decay inside each chunk,
gamma = exp(b), Gamma_ij = exp(b_i - b_j) [i >= j]. Batched over all chunks:

    T_[c] = (I + tril(diag(beta) (Gamma ∘ K K^T), -1))^{-1} diag(beta)    one batched triangular solve
    W_[c] = T_[c] diag(gamma) K_[c],   U_[c] = T_[c] V_[c]
    A_[c] = Gamma ∘ tril(Q_[c] K_[c]^T)

then the inherent loop over chunks (the pseudo-values depend on the state):

    P = U - W S;   O = diag(gamma) Q S + A P;   S <- gamma_C S + (diag(gamma_C / gamma) K)^T P

Padding to a multiple of C uses q = k = v = 0, beta = 0 and log_decay = 0 (a = 1): an identity transition
that writes nothing, so the final state is the state after token n. Here computed in float32 for 16-bit inputs
(float64 stays float64); out is cast back to the input dtype, the state is returned in the accumulation dtype.
"""
import torch
import torch.nn.functional as F

from .._checks import check_qkv, check_causal_lengths, check_positive_int, check_gate, check_matrix_state, check_same_device
from .chunkwise_fast import run_gated_delta
from .gating import _check_log_decay, _initial_state


def _validate(q, k, v, beta, log_decay, chunk_size, state):
    check_qkv(q, k, v, "torch")
    check_causal_lengths(q, k)
    check_gate("beta", beta, k, per_feature_ok=False, backend="torch")
    check_gate("log_decay", log_decay, k, per_feature_ok=False, backend="torch")
    check_same_device(q=q, k=k, v=v, beta=beta, log_decay=log_decay)
    if not bool(torch.isfinite(beta).all()):
        raise ValueError("beta must be finite (got NaN or inf); beta is usually sigmoid(x) in (0, 1) or 2 sigmoid(x) in (0, 2)")
    _check_log_decay(log_decay)
    check_positive_int("chunk_size", chunk_size, allow_none=True)
    check_matrix_state(state, k.shape[:-2], k.shape[-1], v.shape[-1], "torch")


def gated_delta_rule_attention(q, k, v, beta, log_decay, chunk_size=None, state=None):
    """S_t = a_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T, o_t = S_t^T q_t, a_t = exp(log_decay_t).

    q, k: (..., n, d_k), v: (..., n, d_v), beta, log_decay: (..., n); state: S (..., d_k, d_v) or None.
    chunk_size None: the recurrence; an integer: the fast chunkwise WY/UT form with decay (chunkwise_fast).
    Returns (out (..., n, d_v) in v.dtype, S_final (..., d_k, d_v) in the accumulation dtype).
    """
    _validate(q, k, v, beta, log_decay, chunk_size, state)
    S = _initial_state(k, v, state)
    if chunk_size is not None:
        return run_gated_delta(q, k, v, beta, log_decay, chunk_size, S)
    out, S = _recurrent(*(x.to(S.dtype) for x in (q, k, v, beta, log_decay)), S)
    return out.to(v.dtype), S


def _gated_delta_chunked_reference(q, k, v, beta, log_decay, chunk_size, state=None):
    """gated_delta_rule_attention through the readable chunked form ``_chunked`` (a loop over chunks, everything
    in the accumulation dtype): the reference the fast path is tested and timed against."""
    _validate(q, k, v, beta, log_decay, chunk_size, state)
    S = _initial_state(k, v, state)
    out, S = _chunked(*(x.to(S.dtype) for x in (q, k, v, beta, log_decay)), int(chunk_size), S)
    return out.to(v.dtype), S


def _recurrent(q, k, v, beta, log_decay, S):
    outs = []
    for t in range(k.shape[-2]):
        kt, vt, bt = k[..., t, :], v[..., t, :], beta[..., t, None]
        S = torch.exp(log_decay[..., t, None, None]) * S                   # S' = a_t S_{t-1}
        old = (kt[..., :, None] * S).sum(-2)                               # S'^T k_t: (..., d_v)
        S = S + kt[..., :, None] * (bt * (vt - old))[..., None, :]         # + beta_t k_t (v_t - old)^T
        outs.append((q[..., t, :, None] * S).sum(-2))                      # o_t = S_t^T q_t
    out = torch.stack(outs, dim=-2) if outs else v.clone()
    return out, S


def _chunked(q, k, v, beta, log_decay, C, S):
    n, d_k, d_v = k.shape[-2], k.shape[-1], v.shape[-1]
    N = -(-n // C)
    pad = N * C - n
    if pad:                                                                # identity steps: a = 1, beta = 0
        q, k, v = (F.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
        beta, log_decay = F.pad(beta, (0, pad)), F.pad(log_decay, (0, pad))
    qc = q.reshape(*q.shape[:-2], N, C, d_k)                               # (..., N, C, d_k)
    kc = k.reshape(*k.shape[:-2], N, C, d_k)                               # (..., N, C, d_k)
    vc = v.reshape(*v.shape[:-2], N, C, d_v)                               # (..., N, C, d_v)
    bc = beta.reshape(*beta.shape[:-1], N, C)[..., None]                   # (..., N, C, 1)
    b = torch.cumsum(log_decay.reshape(*log_decay.shape[:-1], N, C), dim=-1)   # (..., N, C): log gamma
    causal = torch.ones(C, C, dtype=torch.bool, device=k.device).tril()
    diff = (b[..., :, None] - b[..., None, :]).masked_fill(~causal, float("-inf"))
    Gamma = torch.exp(diff)                                                # (..., N, C, C), 0 above the diagonal
    gamma = torch.exp(b)[..., None]                                        # (..., N, C, 1)
    to_end = torch.exp(b[..., -1:] - b)[..., None]                         # (..., N, C, 1): gamma_C / gamma_j
    gram = kc @ kc.transpose(-1, -2)                                       # (..., N, C, C)
    eye = torch.eye(C, dtype=k.dtype, device=k.device)
    lower = eye + (bc * Gamma * gram).tril(-1)                             # I + tril(diag(beta) (Gamma ∘ K K^T), -1)
    rhs = torch.cat([bc * gamma * kc, bc * vc], dim=-1)                    # diag(beta) [diag(gamma) K, V]
    WU = torch.linalg.solve_triangular(lower, rhs, upper=False, unitriangular=True)
    W, U = WU[..., :d_k], WU[..., d_k:]                                    # (..., N, C, d_k), (..., N, C, d_v)
    A = Gamma * (qc @ kc.transpose(-1, -2))                                # (..., N, C, C), Gamma is 0 above the diagonal
    outs = [v[..., :0, :]]                                                 # n = 0: an empty output
    for c in range(N):
        P = U[..., c, :, :] - W[..., c, :, :] @ S                          # pseudo-values: (..., C, d_v)
        outs.append(gamma[..., c, :, :] * (qc[..., c, :, :] @ S) + A[..., c, :, :] @ P)
        S = torch.exp(b[..., c, -1])[..., None, None] * S \
            + (to_end[..., c, :, :] * kc[..., c, :, :]).transpose(-1, -2) @ P
    out = torch.cat(outs, dim=-2)[..., :n, :]                              # (..., n, d_v)
    return out, S
