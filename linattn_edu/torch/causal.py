"""Causal linear attention: the RNN form and the fast chunkwise-parallel form (torch mirror).

    S_t = S_{t-1} + phi(k_t) v_t^T,   z_t = z_{t-1} + phi(k_t),   out_t = S_t^T phi(q_t) / (z_t . phi(q_t))

``recurrent_linear_attention`` is the readable loop over t (the reference; the NumPy mirror's
``chunked_linear_attention`` is the readable loop over chunks). ``chunked_linear_attention`` is the
fast path: no Python loop over chunks. With C = chunk_size, N = ceil(n / C) chunks and [c] the
tokens of chunk c, for every chunk at once

    A_[c]   = tril(phi(Q_[c]) phi(K_[c])^T)                          (..., N, C, C)   intra-chunk scores
    H_[c]   = phi(K_[c])^T V_[c],   h_[c] = phi(K_[c])^T 1           (..., N, m, d_v), (..., N, m)
    S_[c]   = S_0 + sum_{c' < c} H_[c'],   z_[c] = z_0 + sum_{c' < c} h_[c']   shifted cumsum, float32
    den_[c] = phi(Q_[c]) z_[c] + A_[c] 1                              (..., N, C)
    out_[c] = (phi(Q_[c]) S_[c] + A_[c] V_[c]) / den_[c]              two matmuls, one division

Precision (what keeps bfloat16 right at 64k tokens): the sums over the sequence (the cumsums that
make S_[c] and z_[c], and the row sums of A) run in float32 for 16-bit inputs (float64 stays
float64). For bfloat16 (float32's range) each matmul accumulates in float32 inside and rounds its
result once to bfloat16, as FlashAttention and flash-linear-attention do. float16 has a narrow
range (largest value 65504): phi(Q) S grows with n and overflowed from token ~750 at d = 64 when its
operands were float16, so float16 inputs are computed in float32 throughout and only the output is
rounded. What must never happen is a *running* sum stored in 16 bits (the cumsum form in bfloat16
is 300% wrong at 16k tokens: notebook 10). The returned state (S, z) is in the accumulation dtype.

Causality holds exactly, non-finite values included: the mask inside a chunk selects (tril), A V
is ``causal_matmul`` (a NaN or inf in v_j reaches rows i >= j only), and the exclusive prefix sum is
a shifted cumsum, so nothing from token t reaches an output before t, not even a rounding error.
chunk_size is clamped to n (a longer chunk would only be padding).

Speed: ``compiled_chunked_linear_attention()`` returns a torch.compile'd version (same signature);
inductor fuses the feature map, the mask, the casts, the cumsums and the division into a few
kernels around the five batched matmuls. benchmarks/speed.py measures both against FlashAttention
(SDPA) and flash-linear-attention.
"""
import functools
import math

import torch
import torch.nn.functional as F

from .._checks import check_positive_int, check_state
from .reassociation import _features, _safe_divide, accumulation_dtype, causal_matmul


def _initial_state(state, batch, m, d_v, dtype, device):
    check_state(state, batch, m, d_v, "torch")
    if state is None:
        return (torch.zeros(*batch, m, d_v, dtype=dtype, device=device),
                torch.zeros(*batch, m, dtype=dtype, device=device))
    S, z = state
    return S.to(dtype=dtype, device=device), z.to(dtype=dtype, device=device)


def recurrent_linear_attention(q, k, v, phi, state=None):
    """The RNN form, a loop over t.  q, k: (..., n, d), v: (..., n, d_v) -> (out, (S, z)).

    Slow in Python for long n (one step per token); it is the generation-time form and the reference.
    """
    phi_q, phi_k = _features(q, k, v, phi, causal=True)
    acc = accumulation_dtype(v.dtype)
    S, z = _initial_state(state, phi_k.shape[:-2], phi_k.shape[-1], v.shape[-1], acc, v.device)
    outs = []
    for t in range(q.shape[-2]):
        S = S + phi_k[..., t, :, None].to(acc) * v[..., t, None, :].to(acc)     # S_t = S_{t-1} + phi(k_t) v_t^T
        z = z + phi_k[..., t, :].to(acc)                                        # z_t = z_{t-1} + phi(k_t)
        fq = phi_q[..., t, :].to(acc)
        num = (fq[..., :, None] * S).sum(-2)                                    # S_t^T phi(q_t): (..., d_v)
        den = (fq * z).sum(-1, keepdim=True)
        outs.append(_safe_divide(num, den))
    out = torch.stack(outs, dim=-2) if outs else v.new_zeros(*v.shape[:-2], 0, v.shape[-1]).to(acc)
    return out.to(v.dtype), (S, z)


def chunked_linear_attention(q, k, v, phi, chunk_size=64, state=None):
    """The chunkwise-parallel form, batched over all chunks (see the module docstring for the equations).

    q, k: (..., n, d), v: (..., n, d_v); any n (the sequence is zero-padded to a multiple of
    chunk_size after the feature map, so padding contributes nothing). Returns (out, (S, z)) with
    out in v.dtype and S: (..., m, d_v), z: (..., m) in float32 (float64 for float64 inputs).
    Differentiable; for speed on a GPU use ``compiled_chunked_linear_attention()``.
    """
    check_positive_int("chunk_size", chunk_size)
    phi_q, phi_k = _features(q, k, v, phi, causal=True)
    acc = accumulation_dtype(v.dtype)
    S0, z0 = _initial_state(state, phi_k.shape[:-2], phi_k.shape[-1], v.shape[-1], acc, v.device)
    return chunked_from_features(phi_q, phi_k, v, int(chunk_size), S0, z0)


def chunked_from_features(phi_q, phi_k, v, chunk_size, S0, z0, normalise_first=False):
    """Core of chunked_linear_attention on features (equations: module docstring).

    phi_q, phi_k: (..., n, m), v: (..., n, d_v) in one dtype; S0: (..., m, d_v), z0: (..., m) in the
    accumulation dtype. Returns (out: (..., n, d_v) in v.dtype, (S, z) after the last token).
    normalise_first=True scales the rows of phi(Q) and A by 1/den before the matmuls: the same function,
    kept as an ablation (its A V also goes through causal_matmul). On an H200 under torch.compile (T = 64k, bf16) it needed 36% more memory in
    forward+backward and was no faster (benchmarks/results/h200-2026-11-28-command.md)."""
    dt, acc = v.dtype, S0.dtype
    n, m, d_v = phi_q.shape[-2], phi_q.shape[-1], v.shape[-1]
    batch = phi_q.shape[:-2]
    if n == 0:                                                                # empty sequence: state unchanged
        return v.new_zeros(*batch, 0, d_v), (S0, z0)
    if dt == torch.float16:  # largest float16 is 65504: phi(Q) S and A V overflow long before the output does
        phi_q, phi_k, v = phi_q.to(acc), phi_k.to(acc), v.to(acc)
    mm = v.dtype                                                              # dtype of the matmuls' operands
    C = min(chunk_size, n)                                                    # a chunk longer than n is only padding
    N = -(-n // C)                                                            # number of chunks
    pad = N * C - n
    if pad:                                                                   # zero features: no contribution
        phi_q, phi_k, v = (F.pad(x, (0, 0, 0, pad)) for x in (phi_q, phi_k, v))
    BN = math.prod(batch) * N
    fq = phi_q.reshape(BN, C, m)                                              # (B*N, C, m), B = prod(batch)
    fk = phi_k.reshape(BN, C, m)                                              # (B*N, C, m)
    vc = v.reshape(BN, C, d_v)                                                # (B*N, C, d_v)

    # intra-chunk: causal scores inside each chunk; tril_ selects (in place: no second (B*N, C, C) buffer)
    A = torch.bmm(fq, fk.transpose(1, 2)).tril_()                            # (B*N, C, C)

    # inter-chunk: per-chunk key sums, exclusive prefix sums over chunks in the accumulation dtype.
    # Shifted (S_[c] = S_0 + cumsum(H)[c - 1]), not cumsum(H) - H: the latter adds chunk c's own H and
    # subtracts it again, so a large (or NaN) later token would round (or poison) the state before it.
    H = torch.bmm(fk.transpose(1, 2), vc).reshape(*batch, N, m, d_v).to(acc)  # (..., N, m, d_v)
    h = fk.sum(-2, dtype=acc).reshape(*batch, N, m)                           # (..., N, m)
    S = F.pad(torch.cumsum(H[..., :-1, :, :], dim=-3), (0, 0, 0, 0, 1, 0)) + S0[..., None, :, :]   # (..., N, m, d_v) S_[c]
    z = F.pad(torch.cumsum(h[..., :-1, :], dim=-2), (0, 0, 1, 0)) + z0[..., None, :]                # (..., N, m)      z_[c]

    den = A.sum(-1, dtype=acc) + (fq.to(acc) * z.reshape(BN, 1, m)).sum(-1)   # (B*N, C): phi(Q) z + A 1
    if normalise_first:     # out = (phi(Q) / den) S + (A / den) V: no division pass, a costlier backward
        inv = _safe_divide(torch.ones_like(den), den)[..., None]              # (B*N, C, 1), 0 where den = 0
        out = causal_matmul((A * inv).to(mm), vc) + torch.bmm((fq * inv).to(mm), S.to(mm).reshape(BN, m, d_v))
        out = out.to(dt)
    else:                   # out = (phi(Q) S + A V) / den: A V by causal_matmul (a NaN in a later v stays out)
        num = causal_matmul(A, vc).to(acc) + torch.bmm(fq, S.to(mm).reshape(BN, m, d_v)).to(acc)   # (B*N, C, d_v)
        out = _safe_divide(num, den[..., None]).to(dt)
    out = out.reshape(*batch, N * C, d_v)[..., :n, :]                         # (..., n, d_v)
    return out, (S0 + H.sum(-3), z0 + h.sum(-2))                              # state after the last token


@functools.lru_cache(maxsize=None)
def compiled_chunked_linear_attention(mode=None, dynamic=False):
    """``torch.compile(chunked_linear_attention, mode=mode, dynamic=dynamic)``, built once per setting.

        fast = compiled_chunked_linear_attention()           # then: fast(q, k, v, "elu_plus_one", 64)
        out, (S, z) = fast(q, k, v, "elu_plus_one", chunk_size=64)

    Same signature and results as chunked_linear_attention. dynamic=False compiles once per input
    shape (fastest kernels; raise torch._dynamo.config.recompile_limit when you sweep many lengths);
    dynamic=True compiles once for all lengths. The first call compiles (seconds to a minute).
    """
    return torch.compile(chunked_linear_attention, mode=mode, dynamic=dynamic)
