"""Kernel attention before and after reassociation (torch mirror of linattn_edu.numpy.reassociation).

    out_i = sum_j sim_ij v_j / sum_j sim_ij,     sim_ij = phi(q_i) . phi(k_j)   (j <= i when causal)

Rows with no similarity mass (0/0, possible with relu_features) return 0, not NaN.
Causal masks select (tril, where), and ``causal_matmul`` keeps a non-finite v_j out of rows i < j.
"""
import torch

from .._checks import check_qkv, check_causal_lengths, check_phi, check_features, check_same_device, check_causal
from . import feature_maps

FEATURE_MAPS = {"elu_plus_one": feature_maps.elu_plus_one, "relu_features": feature_maps.relu_features,
                "taylor_features": feature_maps.taylor_features}


def accumulation_dtype(dtype):
    """float32 for half/bfloat16/float32 inputs, float64 for float64: sums over the sequence never run in 16 bits."""
    return torch.promote_types(dtype, torch.float32)


def _features(q, k, v, phi, causal):
    check_qkv(q, k, v, "torch")
    check_same_device(q=q, k=k, v=v)
    check_causal(causal)
    if causal:
        check_causal_lengths(q, k)
    phi = check_phi(phi, FEATURE_MAPS)
    phi_q, phi_k = phi(q), phi(k)
    check_features(phi_q, phi_k, q, k, "torch")
    return phi_q, phi_k


def _safe_divide(num, den):
    """num / den with 0 where den == 0; gradient-safe (no NaN leaks into backward)."""
    zero = den == 0
    return torch.where(zero, torch.zeros_like(num), num / torch.where(zero, torch.ones_like(den), den))


def causal_matmul(A, V):
    """A @ V for a lower-triangular A (A_ij = 0 for j > i), row i reading v_j for j <= i only.

    A: (..., n, n), V: (..., n, d_v). A @ V = A @ V_finite + cumsum_i(V_nonfinite): the finite entries
    go through the matmul, the non-finite ones (NaN, inf) down a running sum, so they reach rows
    i >= j only (a plain matmul computes 0 * NaN = NaN in every row). Exactly A @ V for finite V.
    """
    finite = torch.isfinite(V)
    zero = torch.zeros((), dtype=V.dtype, device=V.device)
    return A @ torch.where(finite, V, zero) + torch.cumsum(torch.where(finite, zero, V), dim=-2)


def kernel_attention(q, k, v, phi, causal=False):
    """The quadratic form D^-1 (phi(Q) phi(K)^T ⊙ M) V.  q: (..., n_q, d), k: (..., n, d), v: (..., n, d_v)."""
    phi_q, phi_k = _features(q, k, v, phi, causal)
    sim = phi_q @ phi_k.transpose(-1, -2)                     # (..., n_q, n)
    if not causal:
        return _safe_divide(sim @ v, sim.sum(-1, keepdim=True))
    sim = sim.tril()                                          # selects: exact zeros above the diagonal
    return _safe_divide(causal_matmul(sim, v), sim.sum(-1, keepdim=True))


def linear_attention(q, k, v, phi, causal=False):
    """The reassociated form phi(q_i)^T S / phi(q_i)^T z (see the NumPy mirror for the derivation).

    causal=True materialises the prefix sums S_i as an (..., n, m, d_v) tensor (the "cumsum form"),
    accumulated in float32 at least (in bfloat16 it is badly wrong for long n: notebook 10).
    For long sequences use chunked_linear_attention.
    """
    phi_q, phi_k = _features(q, k, v, phi, causal)
    return linear_attention_from_features(phi_q, phi_k, v, causal)


def linear_attention_from_features(phi_q, phi_k, v, causal=False, acc_dtype=None):
    """``linear_attention`` on precomputed features; acc_dtype (default: accumulation_dtype(v.dtype))
    is the dtype of the sums over the sequence."""
    acc = accumulation_dtype(v.dtype) if acc_dtype is None else acc_dtype
    fq, fk, va = phi_q.to(acc), phi_k.to(acc), v.to(acc)
    if not causal:
        S = fk.transpose(-1, -2) @ va                         # (..., m, d_v)
        z = fk.sum(-2)                                        # (..., m)
        out = _safe_divide(fq @ S, fq @ z[..., None])
    else:
        S = torch.cumsum(fk[..., :, :, None] * va[..., :, None, :], dim=-3)   # (..., n, m, d_v)
        z = torch.cumsum(fk, dim=-2)                                          # (..., n, m)
        num = (fq[..., :, :, None] * S).sum(-2)                              # (..., n, d_v)
        den = (fq * z).sum(-1, keepdim=True)                                 # (..., n, 1)
        out = _safe_divide(num, den)
    return out.to(v.dtype)
