"""Fast chunkwise forms of the decay (gating), delta-rule, gated delta-rule and unnormalised linear attention (torch).

The public torch functions (``decayed_linear_attention``, ``delta_rule_attention``,
``gated_delta_rule_attention``) run the cores here when given an integer chunk_size. The readable chunked
forms in ``gating.py``, ``delta_rule.py``, ``gated_delta.py`` (``_*_chunked_reference``) and ``causal.py``
are the references; the functions here compute the same functions with the same arguments, written for a GPU:

- no Python loop over chunks where the math allows it (decay: the state scan over chunks is a
  decay-masked matrix product over blocks of chunks, applied recursively, so every exponent is <= 0);
- where a sequential scan is inherent (the delta rule's state depends on itself through
  (I - K^T W)), it runs over ~2 sqrt(N) batched steps instead of N (a two-level blocked scan);
- matrix products take the input dtype for bfloat16 (bf16 operands, float32 accumulation inside the
  tensor cores, one rounding of the result); float16 inputs run in float32 (scores and states leave its
  range, 65504); every sum over the sequence (cumulative log-decays, chunk states, the scan) runs in
  float32 for 16-bit inputs (float64 stays float64), as in ``chunked_linear_attention``;
- causality holds for non-finite values too: masks select (where / tril), never multiply by 0, and the
  products of a lower-triangular matrix with later rows (scores with values, the decay scan's mask with
  chunk states) go through ``causal_matmul``, so a NaN or inf at token t reaches outputs t, t+1, ... only.

Glossary (as in gating.py / delta_rule.py): q, k (..., n, d_k), v (..., n, d_v); C = chunk_size,
N = ceil(n / C) chunks, [c] = the tokens of chunk c; S (..., d_k, d_v) the state; g_t = log a_t <= 0.

Decay (``decayed_linear_attention``):  S_t = a_t S_{t-1} + k_t v_t^T  (per feature: diag(a_t) S_{t-1}),
o_t = S_t^T q_t. With b_i = sum of g over the chunk up to token i (inclusive), for all chunks at once:

    O_[c]  = (q_i ⊙ e^{b_i}) S_[c]  +  sum_{j <= i} (sum_f q_if k_jf e^{b_if - b_jf}) v_j
    D_[c]  = sum_j (k_j ⊙ e^{b_C - b_j}) v_j^T                      what chunk c adds to the state
    S_[c+1] = diag(e^{b_C}) S_[c] + D_[c]                            the scan over chunks (_decay_scan)

With a scalar gate the intra-chunk term is (e^{b_i - b_j} [i >= j] ∘ Q K^T) V, one matmul. With
per-feature gates (GLA) the factor sits inside the sum over f; it is computed on sub-chunks of s <= 16
tokens (GLA's secondary chunking): between sub-chunks I > J, e^{b_i - b_j} = e^{b_i - b_{end J}}
e^{b_{end J} - b_j}, both <= 1, so it is a matmul of rescaled q and k; inside a sub-chunk it is the
exact elementwise form.

Delta rule (``delta_rule_attention``), the WY/UT form of Yang et al. 2024 (arXiv:2406.06484):

    W, U    = (I + tril(diag(beta) K K^T, -1))^{-1} diag(beta) [K, V]        per chunk, one solve
    S_[c+1] = (I - K^T W) S_[c] + K^T U                                      the affine scan (_affine_scan)
    O_[c]   = Q S_[c] + tril(Q K^T) (U - W S_[c])                            batched over all chunks

Gated delta rule (``gated_delta_rule_attention``, Gated DeltaNet, Yang, Kautz, Hatamizadeh 2025,
arXiv:2412.06464): S_t = a_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T. With b_i the in-chunk
cumulative log-decay, gamma_i = e^{b_i}, Gamma_ij = e^{b_i - b_j} [i >= j] (all <= 1):

    W, U    = (I + tril(diag(beta) (Gamma ∘ K K^T), -1))^{-1} diag(beta) [diag(gamma) K, V]   one solve
    K_end   = diag(gamma_C / gamma) K
    S_[c+1] = (gamma_C I - K_end^T W) S_[c] + K_end^T U                      the affine scan (_affine_scan)
    O_[c]   = diag(gamma) Q S_[c] + (Gamma ∘ tril(Q K^T)) (U - W S_[c])       batched over all chunks

Unnormalised causal linear attention (fla's ``chunk_linear_attn(normalize=False)``):
o_t = S_t^T phi(q_t), S_t = S_{t-1} + phi(k_t) v_t^T:  O_[c] = phi(Q) S_[c] + tril(phi(Q) phi(K)^T) V.

Precision note: like flash-linear-attention, the intra-chunk decay factors are exp of differences of
in-chunk cumulative sums (b_i - b_j); in float32 that difference carries an absolute error of about
1e-7 |b|, which matters only for chunks that contain a decay stronger than e^{-1000}.

Where the time goes, on a CPU only (measured 2026-12-02 on the 2-core CI machine under a load of ~7-9,
float32, one thread, eager forward of gated_delta_rule_attention, B = 1, H = 4, T = 4096, D = 64, C = 64,
wall clock around each piece): the blocked affine scan 28%, causal_matmul 15%, the triangular solve 14%,
the other matmuls and elementwise work the rest; 464 ms against 384 ms for the readable loop over chunks.
On a CPU the fast form is the slower one: the blocked scan forms d_k x d_k transition products (about
twice the state FLOPs of the loop), which a FLOP-bound CPU pays for and a GPU, bound by the latency of
N sequential small steps, does not. GPU numbers: benchmarks/speed.py (gated_delta_fast / _compiled).

``compiled(name)`` returns a torch.compile'd version (validation stays eager, outside the graph).
tests/test_chunkwise_fast.py checks every function here against the reference forms in float64.
"""
import functools
import math

import torch
import torch.nn.functional as F

from .._checks import (check_qkv, check_causal_lengths, check_positive_int, check_gate, check_matrix_state,
                       check_same_device, check_state)
from .reassociation import _features, accumulation_dtype, causal_matmul

SCAN_BLOCK = 32          # chunks per block of the decay scan's masked matmul
SUB_CHUNK = 16           # largest sub-chunk of the per-feature intra-chunk form


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------

def _segsum(x):
    """x: (..., T) -> (..., T, T), [i, j] = sum_{j < t <= i} x_t for i >= j and -inf above the diagonal.

    A masked cumsum, so each entry adds only its own terms (exact zeros on the diagonal, no cancellation)."""
    T = x.shape[-1]
    strict = torch.ones(T, T, dtype=torch.bool, device=x.device).tril(-1)
    xr = x[..., None, :].expand(*x.shape, T).transpose(-1, -2).masked_fill(~strict, 0.0)   # [i, j] = x_i, i > j
    out = torch.cumsum(xr, dim=-2)
    return out.masked_fill(~torch.ones(T, T, dtype=torch.bool, device=x.device).tril(), float("-inf"))


def _pad_seq(x, pad, dim_from_end):
    """Zero-pad dimension -dim_from_end of x at its end by `pad`."""
    if not pad:
        return x
    spec = [0, 0] * (dim_from_end - 1) + [0, pad]
    return F.pad(x, spec)


def _decay_scan(w, D, S0, block=SCAN_BLOCK):
    """S_c = e^{w_c} S_{c-1} + D_c for c = 0..N-1 from S_{-1} = S0, every state returned.

    w: (..., F, N) log-decays (<= 0), D: (..., F, N, Y), S0: (..., F, Y) -> S_after (..., F, N, Y).
    F = 1 for a scalar gate (Y = d_k d_v), F = d_k for per-feature gates (Y = d_v).
    Up to `block` steps: one (N+1) x (N+1) decay-masked matmul (S0 as step -1). Longer: the same inside
    blocks of `block` steps, the block totals scanned recursively, then one broadcast add. No loop in
    Python over the steps, and every exponent is a sum of log-decays, <= 0.
    """
    N = w.shape[-1]
    if N <= block:
        L = torch.exp(_segsum(F.pad(w, (1, 0))))                            # (..., F, N + 1, N + 1)
        X = torch.cat([S0[..., None, :], D], dim=-2)                        # (..., F, N + 1, Y)
        return causal_matmul(L, X)[..., 1:, :]                              # (..., F, N, Y)
    M = -(-N // block)                                                      # blocks
    pad = M * block - N                                                     # padding: w = 0, D = 0
    wb = _pad_seq(w, pad, 1).reshape(*w.shape[:-1], M, block)              # (..., F, M, block)
    Db = _pad_seq(D, pad, 2).reshape(*D.shape[:-2], M, block, D.shape[-1])  # (..., F, M, block, Y)
    local = causal_matmul(torch.exp(_segsum(wb)), Db)                       # (..., F, M, block, Y), zero state in
    total = _decay_scan(wb.sum(-1), local[..., -1, :], S0, block)           # (..., F, M, Y) after each block
    before = torch.cat([S0[..., None, :], total[..., :-1, :]], dim=-2)      # (..., F, M, Y) entering each block
    S = local + torch.exp(torch.cumsum(wb, dim=-1))[..., None] * before[..., None, :]
    return S.reshape(*D.shape[:-2], M * block, D.shape[-1])[..., :N, :]    # (..., F, N, Y)


def _affine_scan(A, G, S0, base=8):
    """S_{c+1} = A_c S_c + G_c from S_0 = S0: returns (S_before (..., N, d, e), S_final (..., d, e)).

    A: (..., N, d, d), G: (..., N, d, e). Inherently sequential (A depends on the data), so it is
    blocked: with B = ceil(sqrt(N)) steps per block, every block runs its B steps at once from
    [I | 0] (giving the block's transition product P_j and its state L_j from a zero start), the
    block totals are scanned recursively, then S = P_j S_in + L_j in one batched matmul:
    about 2 sqrt(N) batched steps instead of N.
    """
    N, d = A.shape[-3], A.shape[-1]
    batch = A.shape[:-3]
    if N <= base:
        S, befores = S0, []
        for c in range(N):
            befores.append(S)
            S = G[..., c, :, :] + A[..., c, :, :] @ S                     # (..., d, e)
        return torch.stack(befores, dim=-3), S
    Bk = math.isqrt(N - 1) + 1                                              # ceil(sqrt(N))
    M = -(-N // Bk)
    pad = M * Bk - N                                                        # padding: A = I, G = 0
    eye = torch.eye(d, dtype=A.dtype, device=A.device)
    if pad:
        A = torch.cat([A, eye.expand(*batch, pad, d, d)], dim=-3)
        G = _pad_seq(G, pad, 3)
    Ab = A.reshape(*batch, M, Bk, d, d)                                     # (..., M, Bk, d, d)
    Gb = F.pad(G.reshape(*batch, M, Bk, d, G.shape[-1]), (d, 0))            # (..., M, Bk, d, d + e): [0 | G]
    X = torch.cat([eye.expand(*batch, M, d, d),
                   G.new_zeros(*batch, M, d, G.shape[-1])], dim=-1)         # (..., M, d, d + e) = [I | 0]
    Xs = []
    for j in range(Bk):                                                     # all blocks at once
        X = Gb[..., j, :, :] + Ab[..., j, :, :] @ X                         # [P_j | L_j]
        Xs.append(X)
    Xs = torch.stack(Xs, dim=-3)                                            # (..., M, Bk, d, d + e)
    S_in, S_final = _affine_scan(Xs[..., -1, :, :d], Xs[..., -1, :, d:], S0, base)   # (..., M, d, e)
    S_after = Xs[..., :d] @ S_in[..., None, :, :] + Xs[..., d:]             # (..., M, Bk, d, e)
    S_after = S_after.reshape(*batch, M * Bk, d, G.shape[-1])[..., :N, :, :]
    S_before = torch.cat([S0[..., None, :, :], S_after[..., :-1, :, :]], dim=-3)
    return S_before, S_final


def _sub_chunk(C, limit=SUB_CHUNK):
    """The largest divisor of C that is at most `limit` (the per-feature form's sub-chunk size)."""
    return max(s for s in range(1, min(C, limit) + 1) if C % s == 0)


# ----------------------------------------------------------------------------------------------
# cores (no validation: compile-friendly); shapes in the comments
# ----------------------------------------------------------------------------------------------

def _decayed_core(q, k, v, g, C, S0, per_feature):
    """q, k: (..., n, d_k), v: (..., n, d_v) in one dtype dt; g: (..., n) or (..., n, d_k) and S0 in acc."""
    dt, acc = v.dtype, S0.dtype
    n, d_k, d_v = k.shape[-2], k.shape[-1], v.shape[-1]
    batch = k.shape[:-2]
    N = max(-(-n // C), 1)
    pad = N * C - n                                                        # padding: q = k = v = 0, g = 0
    q, k, v = (_pad_seq(x, pad, 2) for x in (q, k, v))
    g = _pad_seq(g, pad, 2 if per_feature else 1)
    qc = q.reshape(*batch, N, C, d_k)                                      # (..., N, C, d_k)
    kc = k.reshape(*batch, N, C, d_k)
    vc = v.reshape(*batch, N, C, d_v)                                      # (..., N, C, d_v)
    if per_feature:
        b = torch.cumsum(g.reshape(*batch, N, C, d_k), dim=-2)             # (..., N, C, d_k)
        b_end = b[..., -1:, :]                                             # (..., N, 1, d_k)
        A = _gla_intra(qc, kc, b)                                          # (..., N, C, C) in acc
        q_in = (qc.to(acc) * torch.exp(b)).to(dt)                          # q_i ⊙ e^{b_i}
        k_out = (kc.to(acc) * torch.exp(b_end - b)).to(dt)                 # k_j ⊙ e^{b_C - b_j}
        w = b_end[..., 0, :].transpose(-1, -2)                             # (..., d_k, N)
    else:
        b = torch.cumsum(g.reshape(*batch, N, C), dim=-1)                  # (..., N, C)
        b_end = b[..., -1:]                                                # (..., N, 1)
        causal = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()
        L = torch.exp((b[..., :, None] - b[..., None, :]).masked_fill(~causal, float("-inf")))   # (..., N, C, C)
        A = torch.where(causal, (qc @ kc.transpose(-1, -2)).to(acc) * L, 0.0)   # (L ∘ Q K^T), selected
        q_in = (qc.to(acc) * torch.exp(b)[..., None]).to(dt)
        k_out = (kc.to(acc) * torch.exp(b_end - b)[..., None]).to(dt)
        w = b_end[..., 0][..., None, :]                                    # (..., 1, N)
    D = (k_out.transpose(-1, -2) @ vc).to(acc)                             # (..., N, d_k, d_v)
    if per_feature:
        S_after = _decay_scan(w, D.transpose(-3, -2), S0).transpose(-3, -2)          # (..., N, d_k, d_v)
    else:
        S_after = _decay_scan(w, D.reshape(*batch, 1, N, d_k * d_v),
                              S0.reshape(*batch, 1, d_k * d_v)).reshape(*batch, N, d_k, d_v)
    S_before = torch.cat([S0[..., None, :, :], S_after[..., :-1, :, :]], dim=-3)     # (..., N, d_k, d_v)
    out = q_in @ S_before.to(dt) + causal_matmul(A.to(dt), vc)            # (..., N, C, d_v)
    return out.reshape(*batch, N * C, d_v)[..., :n, :], S_after[..., -1, :, :]


def _gla_intra(qc, kc, b):
    """A_ij = sum_f q_if k_jf e^{b_if - b_jf} for j <= i inside each chunk.  (..., N, C, d_k) -> (..., N, C, C).

    Sub-chunks of s tokens: pairs of sub-chunks I > J as a matmul of (q_i ⊙ e^{b_i - b_eJ}) and
    (k_j ⊙ e^{b_eJ - b_j}) (e_J: last token of J, both factors <= 1); I = J elementwise."""
    dt, acc = qc.dtype, b.dtype
    C, d_k = qc.shape[-2], qc.shape[-1]
    s = _sub_chunk(C)
    ns = C // s
    lead = qc.shape[:-2]                                                   # (..., N)
    qs = qc.reshape(*lead, ns, s, d_k).to(acc)                             # (..., N, ns, s, d_k)
    ks = kc.reshape(*lead, ns, s, d_k).to(acc)
    bs = b.reshape(*lead, ns, s, d_k)
    e = bs[..., -1, :]                                                     # (..., N, ns, d_k): b at each sub-chunk's end
    dev = qc.device
    # I = J: exact, elementwise over f
    tri = torch.ones(s, s, dtype=torch.bool, device=dev).tril()
    ex = (bs[..., :, None, :] - bs[..., None, :, :]).masked_fill(~tri[:, :, None], float("-inf"))   # (..., ns, s, s, d_k)
    A_diag = (qs[..., :, None, :] * ks[..., None, :, :] * torch.exp(ex)).sum(-1).masked_fill(~tri, 0.0)   # (..., ns, s, s)
    # I > J: matmuls of rescaled q and k
    below = torch.ones(ns, ns, dtype=torch.bool, device=dev).tril(-1)
    k_hat = (ks * torch.exp(e[..., :, None, :] - bs)).to(dt)                                      # (..., ns_J, s, d_k)
    ex_q = (bs[..., :, None, :, :] - e[..., None, :, None, :]).masked_fill(~below[:, :, None, None], float("-inf"))
    q_hat = (qs[..., :, None, :, :] * torch.exp(ex_q)).to(dt)                                     # (..., ns_I, ns_J, s, d_k)
    A_off = (q_hat @ k_hat[..., None, :, :, :].transpose(-1, -2)).to(acc)                         # (..., ns_I, ns_J, s, s)
    eye = torch.eye(ns, dtype=torch.bool, device=dev)[:, :, None, None]
    A = torch.where(eye, A_diag[..., :, None, :, :], torch.where(below[:, :, None, None], A_off, 0.0))   # (..., ns, ns, s, s)
    return A.transpose(-3, -2).reshape(*lead, C, C)                       # [I s + i, J s + j]


def _delta_core(q, k, v, beta, C, S0):
    """q, k: (..., n, d_k), v: (..., n, d_v) in dt; beta: (..., n) and S0 (..., d_k, d_v) in acc."""
    dt, acc = v.dtype, S0.dtype
    n, d_k, d_v = k.shape[-2], k.shape[-1], v.shape[-1]
    batch = k.shape[:-2]
    N = max(-(-n // C), 1)
    pad = N * C - n                                                        # padding: beta = 0, identity steps
    q, k, v = (_pad_seq(x, pad, 2) for x in (q, k, v))
    beta = _pad_seq(beta, pad, 1)
    qc = q.reshape(*batch, N, C, d_k)                                      # (..., N, C, d_k)
    kc = k.reshape(*batch, N, C, d_k)
    vc = v.reshape(*batch, N, C, d_v)
    bc = beta.reshape(*batch, N, C, 1)                                     # (..., N, C, 1)
    kf = kc.to(acc)
    eye_C = torch.eye(C, dtype=acc, device=q.device)
    lower = eye_C + (bc * (kf @ kf.transpose(-1, -2))).tril(-1)            # I + tril(diag(beta) K K^T, -1)
    rhs = torch.cat([bc * kf, bc * vc.to(acc)], dim=-1)                    # diag(beta) [K, V]: (..., N, C, d_k + d_v)
    WU = torch.linalg.solve_triangular(lower, rhs, upper=False, unitriangular=True)
    W, U = WU[..., :d_k], WU[..., d_k:]                                    # (..., N, C, d_k), (..., N, C, d_v)
    KWU = kf.transpose(-1, -2) @ WU                                        # (..., N, d_k, d_k + d_v): [K^T W | K^T U]
    trans = torch.eye(d_k, dtype=acc, device=q.device) - KWU[..., :d_k]    # I - K^T W
    S_before, S_final = _affine_scan(trans, KWU[..., d_k:], S0)            # (..., N, d_k, d_v)
    P = U - W @ S_before                                                   # pseudo-values U - W S: (..., N, C, d_v)
    A = (qc @ kc.transpose(-1, -2)).tril()                                 # (..., N, C, C), diagonal included
    out = qc @ S_before.to(dt) + causal_matmul(A, P.to(dt))               # (..., N, C, d_v)
    return out.reshape(*batch, N * C, d_v)[..., :n, :], S_final


def _gated_delta_core(q, k, v, beta, g, C, S0):
    """q, k: (..., n, d_k), v: (..., n, d_v) in dt; beta, g: (..., n) and S0 (..., d_k, d_v) in acc."""
    dt, acc = v.dtype, S0.dtype
    n, d_k, d_v = k.shape[-2], k.shape[-1], v.shape[-1]
    batch = k.shape[:-2]
    N = max(-(-n // C), 1)
    pad = N * C - n                                                        # padding: beta = 0, g = 0 (a = 1): identity steps
    q, k, v = (_pad_seq(x, pad, 2) for x in (q, k, v))
    beta, g = _pad_seq(beta, pad, 1), _pad_seq(g, pad, 1)
    qc = q.reshape(*batch, N, C, d_k)                                      # (..., N, C, d_k)
    kc = k.reshape(*batch, N, C, d_k)
    vc = v.reshape(*batch, N, C, d_v)
    bc = beta.reshape(*batch, N, C, 1)                                     # (..., N, C, 1)
    b = torch.cumsum(g.reshape(*batch, N, C), dim=-1)                      # (..., N, C): log gamma_i, in acc
    causal = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()
    Gamma = torch.exp((b[..., :, None] - b[..., None, :]).masked_fill(~causal, float("-inf")))   # (..., N, C, C)
    gamma = torch.exp(b)[..., None]                                        # (..., N, C, 1)
    kf = kc.to(acc)
    eye_C = torch.eye(C, dtype=acc, device=q.device)
    lower = eye_C + (bc * Gamma * (kf @ kf.transpose(-1, -2))).tril(-1)    # I + tril(diag(beta) (Gamma ∘ K K^T), -1)
    rhs = torch.cat([bc * gamma * kf, bc * vc.to(acc)], dim=-1)            # diag(beta) [diag(gamma) K, V]
    WU = torch.linalg.solve_triangular(lower, rhs, upper=False, unitriangular=True)
    W, U = WU[..., :d_k], WU[..., d_k:]                                    # (..., N, C, d_k), (..., N, C, d_v)
    k_end = kf * torch.exp(b[..., -1:] - b)[..., None]                     # diag(gamma_C / gamma) K: (..., N, C, d_k)
    KWU = k_end.transpose(-1, -2) @ WU                                     # (..., N, d_k, d_k + d_v)
    eye_k = torch.eye(d_k, dtype=acc, device=q.device)
    trans = torch.exp(b[..., -1])[..., None, None] * eye_k - KWU[..., :d_k]   # gamma_C I - K_end^T W
    S_before, S_final = _affine_scan(trans, KWU[..., d_k:], S0)            # (..., N, d_k, d_v)
    P = U - W @ S_before                                                   # pseudo-values U - W S: (..., N, C, d_v)
    A = torch.where(causal, (qc @ kc.transpose(-1, -2)).to(acc) * Gamma, 0.0)   # Gamma ∘ tril(Q K^T), selected
    q_in = (qc.to(acc) * gamma).to(dt)                                     # diag(gamma) Q
    out = q_in @ S_before.to(dt) + causal_matmul(A.to(dt), P.to(dt))      # (..., N, C, d_v)
    return out.reshape(*batch, N * C, d_v)[..., :n, :], S_final


def _linear_unnormalised_core(fq, fk, v, C, S0):
    """fq, fk: (..., n, m), v: (..., n, d_v) in dt; S0 (..., m, d_v) in acc. Returns (out, S after the last token)."""
    dt, acc = v.dtype, S0.dtype
    n, m, d_v = fk.shape[-2], fk.shape[-1], v.shape[-1]
    batch = fk.shape[:-2]
    N = max(-(-n // C), 1)
    pad = N * C - n
    fq, fk, v = (_pad_seq(x, pad, 2) for x in (fq, fk, v))
    BN = math.prod(batch) * N
    qc = fq.reshape(BN, C, m)                                              # (B*N, C, m)
    kc = fk.reshape(BN, C, m)
    vc = v.reshape(BN, C, d_v)                                             # (B*N, C, d_v)
    A = torch.bmm(qc, kc.transpose(1, 2)).tril_()                          # (B*N, C, C)
    H = torch.bmm(kc.transpose(1, 2), vc).reshape(*batch, N, m, d_v).to(acc)   # (..., N, m, d_v)
    S = torch.cumsum(H, dim=-3) - H + S0[..., None, :, :]                  # exclusive prefix sums, acc
    out = torch.baddbmm(torch.bmm(A, vc), qc, S.to(dt).reshape(BN, m, d_v))    # (B*N, C, d_v)
    return out.reshape(*batch, N * C, d_v)[..., :n, :], S0 + H.sum(-3)


# ----------------------------------------------------------------------------------------------
# public: validation (eager), dtype policy, then the core
# ----------------------------------------------------------------------------------------------

def _check_log_decay(log_decay):
    ok = torch.isfinite(log_decay) & (log_decay <= 0)
    if not bool(ok.all()):
        bad = log_decay.detach()[~ok].flatten()[0].item()
        raise ValueError(f"log_decay must be finite and <= 0 (a_t = exp(log_decay) in (0, 1]) (got a value "
                         f"{bad!r}); use log_decay = log(a), e.g. -softplus(x)")


def _prepare_decayed(q, k, v, log_decay, chunk_size, state):
    check_qkv(q, k, v, "torch")
    check_causal_lengths(q, k)
    per_feature = check_gate("log_decay", log_decay, k, per_feature_ok=True, backend="torch")
    check_same_device(q=q, k=k, v=v, log_decay=log_decay)
    _check_log_decay(log_decay)
    check_positive_int("chunk_size", chunk_size)
    check_matrix_state(state, k.shape[:-2], k.shape[-1], v.shape[-1], "torch")
    acc = accumulation_dtype(v.dtype)
    S0 = torch.zeros(*k.shape[:-2], k.shape[-1], v.shape[-1], dtype=acc, device=v.device) if state is None \
        else state.to(dtype=acc, device=v.device)
    return per_feature, log_decay.to(acc), S0


def _prepare_delta(q, k, v, beta, chunk_size, state):
    check_qkv(q, k, v, "torch")
    check_causal_lengths(q, k)
    check_gate("beta", beta, k, per_feature_ok=False, backend="torch")
    check_same_device(q=q, k=k, v=v, beta=beta)
    if not bool(torch.isfinite(beta).all()):
        raise ValueError("beta must be finite (got NaN or inf); beta is usually sigmoid(x) in (0, 1) or 2 sigmoid(x) in (0, 2)")
    check_positive_int("chunk_size", chunk_size)
    check_matrix_state(state, k.shape[:-2], k.shape[-1], v.shape[-1], "torch")
    acc = accumulation_dtype(v.dtype)
    S0 = torch.zeros(*k.shape[:-2], k.shape[-1], v.shape[-1], dtype=acc, device=v.device) if state is None \
        else state.to(dtype=acc, device=v.device)
    return beta.to(acc), S0


def _prepare_gated_delta(q, k, v, beta, log_decay, chunk_size, state):
    b, S0 = _prepare_delta(q, k, v, beta, chunk_size, state)
    check_gate("log_decay", log_decay, k, per_feature_ok=False, backend="torch")
    check_same_device(q=q, k=k, v=v, log_decay=log_decay)
    _check_log_decay(log_decay)
    return b, log_decay.to(S0.dtype), S0


def compute_dtype(dtype):
    """The dtype the cores' matmul operands take for inputs of `dtype`.

    bfloat16 stays bfloat16 (float32 accumulation inside the matmul, sums in float32); float16 runs in
    float32, because scores and states exceed its range (65504) where bfloat16's (3e38) holds them;
    float32 and float64 stay as they are."""
    return dtype if dtype == torch.bfloat16 else accumulation_dtype(dtype)


def _run(core, q, k, v, gates, C, S0, *flags):
    """Validated inputs -> (out in v.dtype, S_final in S0's dtype): the dtype policy, chunk_size clamped
    to n (a longer chunk would only be padding), and n = 0 (the state unchanged)."""
    n = k.shape[-2]
    if n == 0:
        return v.clone(), S0
    dt = compute_dtype(v.dtype)
    out, S = core(q.to(dt), k.to(dt), v.to(dt), *(x.to(S0.dtype) for x in gates), min(int(C), n), S0, *flags)
    return out.to(v.dtype), S


def run_decayed(q, k, v, log_decay, per_feature, C, S0, core=_decayed_core):
    """The fast decay form on validated inputs (what linattn_edu.torch.decayed_linear_attention calls)."""
    return _run(core, q, k, v, (log_decay,), C, S0, per_feature)


def run_delta(q, k, v, beta, C, S0, core=_delta_core):
    """The fast delta rule on validated inputs (what linattn_edu.torch.delta_rule_attention calls)."""
    return _run(core, q, k, v, (beta,), C, S0)


def run_gated_delta(q, k, v, beta, log_decay, C, S0, core=_gated_delta_core):
    """The fast gated delta rule on validated inputs (what linattn_edu.torch.gated_delta_rule_attention calls)."""
    return _run(core, q, k, v, (beta, log_decay), C, S0)


def decayed_linear_attention(q, k, v, log_decay, chunk_size=64, state=None, _core=_decayed_core):
    """Fast chunkwise S_t = a_t S_{t-1} + k_t v_t^T (per feature: diag(a_t) S_{t-1}), o_t = S_t^T q_t.

    Same arguments and results as linattn_edu.torch.decayed_linear_attention with an integer chunk_size:
    q, k: (..., n, d_k), v: (..., n, d_v), log_decay: (..., n) or (..., n, d_k), state: (..., d_k, d_v)
    or None. Returns (out (..., n, d_v) in v.dtype, S_final (..., d_k, d_v) in float32 / float64).
    """
    per_feature, g, S0 = _prepare_decayed(q, k, v, log_decay, chunk_size, state)
    return run_decayed(q, k, v, g, per_feature, chunk_size, S0, _core)


def delta_rule_attention(q, k, v, beta, chunk_size=64, state=None, _core=_delta_core):
    """Fast chunkwise S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T, o_t = S_t^T q_t.

    Same arguments and results as linattn_edu.torch.delta_rule_attention with an integer chunk_size:
    q, k: (..., n, d_k), v: (..., n, d_v), beta: (..., n), state: (..., d_k, d_v) or None.
    Returns (out (..., n, d_v) in v.dtype, S_final (..., d_k, d_v) in float32 / float64).
    """
    b, S0 = _prepare_delta(q, k, v, beta, chunk_size, state)
    return run_delta(q, k, v, b, chunk_size, S0, _core)


def gated_delta_rule_attention(q, k, v, beta, log_decay, chunk_size=64, state=None, _core=_gated_delta_core):
    """Fast chunkwise S_t = a_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T, o_t = S_t^T q_t (Gated DeltaNet).

    Same arguments and results as linattn_edu.torch.gated_delta_rule_attention with an integer chunk_size:
    q, k: (..., n, d_k), v: (..., n, d_v), beta, log_decay: (..., n) (a_t = exp(log_decay_t)),
    state: (..., d_k, d_v) or None. Returns (out (..., n, d_v) in v.dtype, S_final (..., d_k, d_v) in
    float32 / float64).
    """
    b, g, S0 = _prepare_gated_delta(q, k, v, beta, log_decay, chunk_size, state)
    return run_gated_delta(q, k, v, b, g, chunk_size, S0, _core)


def unnormalised_linear_attention(q, k, v, phi, chunk_size=64, state=None, _core=_linear_unnormalised_core):
    """Causal linear attention without the normaliser: o_t = S_t^T phi(q_t), S_t = S_{t-1} + phi(k_t) v_t^T.

    What flash-linear-attention's chunk_linear_attn(normalize=False) computes (with scale = 1).
    Arguments as chunked_linear_attention: q, k: (..., n, d), v: (..., n, d_v), phi a feature-map
    name or callable, state None or (S (..., m, d_v), z (..., m)). Returns (out, (S, z)) with the
    same state layout as chunked_linear_attention (z = z_0 + sum_t phi(k_t), unused by out), so a
    state can be handed between the two forms.

    Benchmark form, not part of the mirrored API: it is tuned for speed (the H200 table in the README
    measures this code) and does not carry the causal forms' guarantees of tests/test_reliability.py —
    a NaN / inf in a later token of the same chunk reaches earlier rows (0 * NaN in A @ V), and the
    exclusive prefix sum cumsum(H) - H rounds earlier chunks by a large later one.
    """
    check_positive_int("chunk_size", chunk_size)
    phi_q, phi_k = _features(q, k, v, phi, causal=True)
    acc = accumulation_dtype(v.dtype)
    batch, m, d_v = phi_k.shape[:-2], phi_k.shape[-1], v.shape[-1]
    check_state(state, batch, m, d_v, "torch")
    if state is None:
        S0 = torch.zeros(*batch, m, d_v, dtype=acc, device=v.device)
        z0 = torch.zeros(*batch, m, dtype=acc, device=v.device)
    else:
        S0, z0 = (x.to(dtype=acc, device=v.device) for x in state)
    if k.shape[-2] == 0:
        return v.new_zeros(*batch, 0, d_v), (S0, z0)
    out, S = _core(phi_q, phi_k, v, int(chunk_size), S0)
    return out.to(v.dtype), (S, z0 + phi_k.sum(-2, dtype=acc))


_PUBLIC = {"decayed_linear_attention": (decayed_linear_attention, _decayed_core),
           "delta_rule_attention": (delta_rule_attention, _delta_core),
           "gated_delta_rule_attention": (gated_delta_rule_attention, _gated_delta_core),
           "unnormalised_linear_attention": (unnormalised_linear_attention, _linear_unnormalised_core)}


@functools.lru_cache(maxsize=None)
def compiled(name, mode=None, dynamic=False):
    """The fast function `name` with its core under torch.compile(mode=mode, dynamic=dynamic), built once.

        fast = compiled("delta_rule_attention")            # then fast(q, k, v, beta, 64)
        fast = compiled("gated_delta_rule_attention")      # then fast(q, k, v, beta, log_decay, 64)

    For the decay, delta and gated delta forms validation stays eager (its value checks read the data, which would
    break the graph) and the core is compiled; the unnormalised form has shape checks only, so the whole
    function is compiled (the feature map fuses into the kernels, as in compiled_chunked_linear_attention).
    dynamic=False compiles once per input shape; dynamic=None lets torch decide (recompiles once
    with dynamic shapes at the second length).
    """
    fn, core = _PUBLIC[name]
    if name == "unnormalised_linear_attention":
        return torch.compile(fn, mode=mode, dynamic=dynamic)
    fast_core = torch.compile(core, mode=mode, dynamic=dynamic)
    return functools.partial(fn, _core=fast_core)
