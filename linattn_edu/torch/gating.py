"""Linear attention with decay (gating), torch mirror of linattn_edu.numpy.gating.

    S_t = a_t S_{t-1} + k_t v_t^T   (per-feature: diag(a_t) S_{t-1} + k_t v_t^T),   o_t = S_t^T q_t
    a_t = exp(log_decay_t),   S: (..., d_k, d_v)

chunk_size None runs the recurrence (a loop over t, the definition). An integer chunk_size runs the fast
chunkwise path, linattn_edu.torch.chunkwise_fast (bfloat16 matmul operands with float32 sums, the decay scan
over chunks as a masked matmul over blocks of chunks). The readable chunked form it is tested against is
``_chunked`` below (``_decayed_chunked_reference`` with the public arguments), the same mathematics written
as the notebook derives it.

The readable chunked form has no Python loop. With C = chunk_size and N = ceil(n / C) chunks, for all chunks at once:

    L_[c]   = exp(segsum(log a_[c]))                    (..., N, C, C)   the decay mask inside each chunk
    intra   = (L_[c] ∘ Q_[c] K_[c]^T) V_[c]
    D_[c]   = sum_j exp(b_end - b_j) k_j v_j^T           (..., N, d_k, d_v)  what chunk c adds to the state
    S_[c]   = sum_{c' < c} exp(segsum over chunks) D_[c'] + exp(sum of all earlier chunk decays) S_0

The last line is the same decay mask one level up (state-space duality applied to chunks, as in
Mamba-2's ssd_minimal): an (N+1, N+1) mask over chunks, so the inter-chunk recurrence is one einsum.
segsum(x)_ij = sum_{j < t <= i} x_t for i >= j and -inf otherwise, computed by a masked cumsum so
that each entry only ever adds the terms it needs (no exp(B_i) / exp(B_j): no underflow, no NaN).
Here decays, sums, the state and every product are computed in float32 for 16-bit inputs (the fast path
keeps bfloat16 matmul operands); out is cast back to the input dtype.
Masks select (where / masked_fill), never multiply by 0, and both lower-triangular products (the
scores with V, the chunk mask with the chunk states) go through ``causal_matmul``: a NaN or inf at
token t reaches outputs t, t+1, ... only. chunk_size is clamped to n.
"""
import torch
import torch.nn.functional as F

from .._checks import check_qkv, check_causal_lengths, check_positive_int, check_array, check_gate, check_matrix_state, check_same_device
from .chunkwise_fast import run_decayed
from .reassociation import accumulation_dtype, causal_matmul


def _check_log_decay(log_decay):
    ok = torch.isfinite(log_decay) & (log_decay <= 0)
    if not bool(ok.all()):
        bad = log_decay.detach()[~ok].flatten()[0].item()
        raise ValueError(f"log_decay must be finite and <= 0 (a_t = exp(log_decay) in (0, 1]) (got a value "
                         f"{bad!r}); use log_decay = log(a), e.g. -softplus(x); for a full reset use a large "
                         f"negative number such as -1e4 rather than -inf")


def _validate(q, k, v, log_decay, chunk_size, state):
    check_qkv(q, k, v, "torch")
    check_causal_lengths(q, k)
    per_feature = check_gate("log_decay", log_decay, k, per_feature_ok=True, backend="torch")
    check_same_device(q=q, k=k, v=v, log_decay=log_decay)
    _check_log_decay(log_decay)
    check_positive_int("chunk_size", chunk_size, allow_none=True)
    check_matrix_state(state, k.shape[:-2], k.shape[-1], v.shape[-1], "torch")
    return per_feature


def segsum(x):
    """x: (..., T) -> (..., T, T) with entry [i, j] = sum_{j < t <= i} x_t for i >= j, -inf above the diagonal."""
    T = x.shape[-1]
    strict = torch.ones(T, T, dtype=torch.bool, device=x.device).tril(-1)
    xr = x[..., None, :].expand(*x.shape, T).transpose(-1, -2)            # (..., T, T), xr[i, j] = x_i
    xr = xr.masked_fill(~strict, 0.0)                                      # keep x_i only where i > j
    out = torch.cumsum(xr, dim=-2)                                         # [i, j] = sum_{j < t <= i} x_t
    return out.masked_fill(~torch.ones(T, T, dtype=torch.bool, device=x.device).tril(), float("-inf"))


def decay_mask(log_decay):
    """L_ij = prod_{j < t <= i} a_t for i >= j, else 0.   log_decay: (..., n) -> (..., n, n)."""
    check_array("log_decay", log_decay, "torch", min_ndim=1)
    _check_log_decay(log_decay)
    return torch.exp(segsum(log_decay))


def decayed_linear_attention(q, k, v, log_decay, chunk_size=None, state=None):
    """S_t = a_t S_{t-1} + k_t v_t^T, o_t = S_t^T q_t, with a_t = exp(log_decay_t).

    q, k: (..., n, d_k), v: (..., n, d_v), log_decay: (..., n) or (..., n, d_k); state: S (..., d_k, d_v) or None.
    chunk_size None: the recurrence (a loop over t); an integer: the fast chunkwise form (chunkwise_fast),
    batched over chunks. Returns (out (..., n, d_v) in v.dtype, S_final (..., d_k, d_v) in the accumulation dtype).
    """
    per_feature = _validate(q, k, v, log_decay, chunk_size, state)
    S0 = _initial_state(k, v, state)
    if chunk_size is not None:
        return run_decayed(q, k, v, log_decay, per_feature, chunk_size, S0)
    acc = S0.dtype
    out, S = _recurrent(*(x.to(acc) for x in (q, k, v, log_decay)), per_feature, S0)
    return out.to(v.dtype), S


def _decayed_chunked_reference(q, k, v, log_decay, chunk_size, state=None):
    """decayed_linear_attention through the readable chunked form ``_chunked`` (everything in the accumulation
    dtype): the reference the fast path is tested (tests/test_chunkwise_fast.py) and timed (speed.py) against."""
    per_feature = _validate(q, k, v, log_decay, chunk_size, state)
    S0 = _initial_state(k, v, state)
    acc = S0.dtype
    out, S = _chunked(*(x.to(acc) for x in (q, k, v, log_decay)), per_feature, int(chunk_size), S0)
    return out.to(v.dtype), S


def _initial_state(k, v, state):
    """S_0 in the accumulation dtype on v's device: zeros (..., d_k, d_v), or the given state."""
    acc = accumulation_dtype(v.dtype)
    if state is None:
        return torch.zeros(*k.shape[:-2], k.shape[-1], v.shape[-1], dtype=acc, device=v.device)
    return state.to(dtype=acc, device=v.device)


def _recurrent(q, k, v, log_decay, per_feature, S):
    outs = []
    for t in range(k.shape[-2]):
        a = torch.exp(log_decay[..., t, :, None] if per_feature else log_decay[..., t, None, None])
        S = a * S + k[..., t, :, None] * v[..., t, None, :]              # S_t = a_t S_{t-1} + k_t v_t^T
        outs.append((q[..., t, :, None] * S).sum(-2))                     # o_t = S_t^T q_t: (..., d_v)
    out = torch.stack(outs, dim=-2) if outs else v.clone()
    return out, S


def _chunked(q, k, v, log_decay, per_feature, C, S0):
    n, d_k, d_v = k.shape[-2], k.shape[-1], v.shape[-1]
    if n == 0:                                                             # empty sequence: state unchanged
        return v.clone(), S0
    C = min(C, n)                                                          # a longer chunk would only be padding
    N = -(-n // C)                                                         # number of chunks
    pad = N * C - n                                                        # padding: k = v = 0, a = 1
    if pad:
        q, k, v = (F.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
        log_decay = F.pad(log_decay, (0, 0, 0, pad) if per_feature else (0, pad))
    qc = q.reshape(*q.shape[:-2], N, C, d_k)                               # (..., N, C, d_k)
    kc = k.reshape(*k.shape[:-2], N, C, d_k)                               # (..., N, C, d_k)
    vc = v.reshape(*v.shape[:-2], N, C, d_v)                               # (..., N, C, d_v)
    if per_feature:
        g = log_decay.reshape(*log_decay.shape[:-2], N, C, d_k).transpose(-1, -2)   # (..., N, d_k, C)
    else:
        g = log_decay.reshape(*log_decay.shape[:-1], N, C)                 # (..., N, C)
    b = torch.cumsum(g, dim=-1)                                            # log-decay from chunk start to i (inclusive)
    b_end = b[..., -1:]                                                    # total log-decay of each chunk
    to_end = torch.exp(b_end - b)                                          # exp(b_end - b_j) <= 1
    from_start = torch.exp(b)                                              # exp(b_i) <= 1
    L = torch.exp(segsum(g))                                               # (..., N, C, C) or (..., N, d_k, C, C)
    causal = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()
    zero = torch.zeros((), dtype=q.dtype, device=q.device)
    if per_feature:
        scores = torch.einsum("...ik,...jk,...kij->...ij", qc, kc, L)      # (..., N, C, C)
        scores = torch.where(causal, scores, zero)                         # select: j > i is 0 even if k_j is NaN
        inter_q = qc * from_start.transpose(-1, -2)                        # (..., N, C, d_k): q_i ⊙ exp(b_i)
        D = (kc * to_end.transpose(-1, -2)).transpose(-1, -2) @ vc         # (..., N, d_k, d_v)
        chunk_log = b_end[..., 0].transpose(-1, -2)                        # (..., d_k, N)
    else:
        scores = torch.where(causal, L * (qc @ kc.transpose(-1, -2)), zero)   # (L ∘ Q K^T): (..., N, C, C)
        inter_q = qc * from_start[..., None]
        D = (kc * to_end[..., None]).transpose(-1, -2) @ vc                # (..., N, d_k, d_v)
        chunk_log = b_end[..., 0]                                          # (..., N)
    # States after each chunk, S_0 treated as chunk "-1" with no decay of its own: (N + 1) x (N + 1) mask.
    chunk_log = F.pad(chunk_log, (1, 0))                                   # (..., [d_k,] N + 1)
    Lc = torch.exp(segsum(chunk_log))                                      # (..., [d_k,] N + 1, N + 1)
    D_all = torch.cat([S0[..., None, :, :], D], dim=-3)                    # (..., N + 1, d_k, d_v)
    if per_feature:     # per key feature: (..., d_k, N + 1, N + 1) @ (..., d_k, N + 1, d_v)
        S_after = causal_matmul(Lc, D_all.transpose(-3, -2)).transpose(-3, -2)          # (..., N + 1, d_k, d_v)
    else:               # (..., N + 1, N + 1) @ (..., N + 1, d_k * d_v)
        S_after = causal_matmul(Lc, D_all.flatten(-2)).unflatten(-1, (d_k, d_v))
    S_before = S_after[..., :-1, :, :]                                     # state entering chunk c: (..., N, d_k, d_v)
    out = inter_q @ S_before + causal_matmul(scores, vc)                   # (..., N, C, d_v)
    out = out.reshape(*out.shape[:-3], N * C, d_v)[..., :n, :]
    return out, S_after[..., -1, :, :]
