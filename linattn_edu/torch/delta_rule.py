"""The delta rule (DeltaNet), torch mirror of linattn_edu.numpy.delta_rule.

    S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T,   o_t = S_t^T q_t,   S: (..., d_k, d_v)

chunk_size None runs the recurrence; an integer chunk_size runs the fast chunkwise path,
linattn_edu.torch.chunkwise_fast (the same WY/UT form with the loop over chunks replaced by a blocked scan
of ~2 sqrt(N) batched steps, bfloat16 matmul operands with float32 sums). The readable chunked form it is
tested against is ``_chunked`` below (``_delta_chunked_reference`` with the public arguments):

Chunked form (Yang et al. 2024, Eq. 8-11), C = chunk_size, N = ceil(n / C) chunks. Batched over all chunks:

    T_[c] = (I + tril(diag(beta) K K^T, -1))^{-1} diag(beta)     one batched triangular solve, (..., N, C, C)
    W_[c] = T_[c] K_[c],   U_[c] = T_[c] V_[c]                   (..., N, C, d_k), (..., N, C, d_v)
    A_[c] = tril(Q_[c] K_[c]^T)                                  (..., N, C, C)

then a loop over the N chunks, which is inherent (the pseudo-values depend on the state):

    P = U_[c] - W_[c] S;   O_[c] = Q_[c] S + A_[c] P;   S <- S + K_[c]^T P

Padding to a multiple of C uses k = v = q = 0 and beta = 0 (an identity transition); chunk_size is
clamped to n. The masks select (tril) and A P goes through causal_matmul, so a NaN or inf at token t
reaches outputs t, t+1, ... only (the triangular solve is a forward substitution: row r of W, U
reads rows <= r). Here everything runs in
float32 for 16-bit inputs (float64 stays float64); out is cast back to the input dtype.
"""
import torch
import torch.nn.functional as F

from .._checks import check_qkv, check_causal_lengths, check_positive_int, check_gate, check_matrix_state, check_same_device
from .chunkwise_fast import run_delta
from .gating import _initial_state
from .reassociation import causal_matmul


def _validate(q, k, v, beta, chunk_size, state):
    check_qkv(q, k, v, "torch")
    check_causal_lengths(q, k)
    check_gate("beta", beta, k, per_feature_ok=False, backend="torch")
    check_same_device(q=q, k=k, v=v, beta=beta)
    if not bool(torch.isfinite(beta).all()):
        raise ValueError("beta must be finite (got NaN or inf); beta is usually sigmoid(x) in (0, 1) or 2 sigmoid(x) in (0, 2)")
    check_positive_int("chunk_size", chunk_size, allow_none=True)
    check_matrix_state(state, k.shape[:-2], k.shape[-1], v.shape[-1], "torch")


def delta_rule_attention(q, k, v, beta, chunk_size=None, state=None):
    """S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T, o_t = S_t^T q_t.

    q, k: (..., n, d_k), v: (..., n, d_v), beta: (..., n); state: S (..., d_k, d_v) or None.
    chunk_size None: the recurrence; an integer: the fast chunkwise WY/UT form (chunkwise_fast). The range
    of beta is not validated (stable for 0 <= beta ||k||^2 <= 2). Returns (out (..., n, d_v) in v.dtype,
    S_final (..., d_k, d_v) in the accumulation dtype).
    """
    _validate(q, k, v, beta, chunk_size, state)
    S = _initial_state(k, v, state)
    if chunk_size is not None:
        return run_delta(q, k, v, beta, chunk_size, S)
    out, S = _recurrent(*(x.to(S.dtype) for x in (q, k, v, beta)), S)
    return out.to(v.dtype), S


def _delta_chunked_reference(q, k, v, beta, chunk_size, state=None):
    """delta_rule_attention through the readable chunked form ``_chunked`` (a loop over chunks, everything in the
    accumulation dtype): the reference the fast path is tested and timed against."""
    _validate(q, k, v, beta, chunk_size, state)
    S = _initial_state(k, v, state)
    out, S = _chunked(*(x.to(S.dtype) for x in (q, k, v, beta)), int(chunk_size), S)
    return out.to(v.dtype), S


def _recurrent(q, k, v, beta, S):
    outs = []
    for t in range(k.shape[-2]):
        kt, vt, bt = k[..., t, :], v[..., t, :], beta[..., t, None]
        old = (kt[..., :, None] * S).sum(-2)                               # S_{t-1}^T k_t: (..., d_v)
        S = S + kt[..., :, None] * (bt * (vt - old))[..., None, :]         # + beta_t k_t (v_t - old)^T
        outs.append((q[..., t, :, None] * S).sum(-2))                      # o_t = S_t^T q_t
    out = torch.stack(outs, dim=-2) if outs else v.clone()
    return out, S


def _chunked(q, k, v, beta, C, S):
    n, d_k, d_v = k.shape[-2], k.shape[-1], v.shape[-1]
    if n == 0:                                                             # empty sequence: state unchanged
        return v.clone(), S
    C = min(C, n)                                                          # a longer chunk would only be padding
    N = -(-n // C)
    pad = N * C - n
    if pad:
        q, k, v = (F.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
        beta = F.pad(beta, (0, pad))
    qc = q.reshape(*q.shape[:-2], N, C, d_k)                               # (..., N, C, d_k)
    kc = k.reshape(*k.shape[:-2], N, C, d_k)                               # (..., N, C, d_k)
    vc = v.reshape(*v.shape[:-2], N, C, d_v)                               # (..., N, C, d_v)
    bc = beta.reshape(*beta.shape[:-1], N, C)[..., None]                   # (..., N, C, 1)
    gram = kc @ kc.transpose(-1, -2)                                       # (..., N, C, C)
    eye = torch.eye(C, dtype=k.dtype, device=k.device)
    lower = eye + (bc * gram).tril(-1)                                     # I + tril(diag(beta) K K^T, -1)
    rhs = torch.cat([bc * kc, bc * vc], dim=-1)                            # diag(beta) [K, V]: (..., N, C, d_k + d_v)
    WU = torch.linalg.solve_triangular(lower, rhs, upper=False, unitriangular=True)
    W, U = WU[..., :d_k], WU[..., d_k:]                                    # (..., N, C, d_k), (..., N, C, d_v)
    A = (qc @ kc.transpose(-1, -2)).tril()                                 # (..., N, C, C), diagonal included
    outs = []
    for c in range(N):
        P = U[..., c, :, :] - W[..., c, :, :] @ S                          # pseudo-values U - W S: (..., C, d_v)
        outs.append(qc[..., c, :, :] @ S + causal_matmul(A[..., c, :, :], P))   # (..., C, d_v); A P, causally
        S = S + kc[..., c, :, :].transpose(-1, -2) @ P                     # S + K^T (U - W S)
    out = torch.cat(outs, dim=-2)[..., :n, :]                              # (..., n, d_v)
    return out, S
