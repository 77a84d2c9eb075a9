"""FAVOR+ (Performer) in torch: the same estimator and stabiliser as linattn_edu.numpy.performer.

    softmax_attention(q, k, v) ≈ D^-1 phi(q') (phi(k')^T v),   q' = q d^{-1/4},  k' = k d^{-1/4}

Per-row max subtraction for queries, one global max (per batch element) for keys; both cancel
exactly. eps (default 0) is added to every feature after stabilisation (performer-pytorch style, biased).
The key constant is the maximum over finite exponents (a NaN or inf key leaves it alone). The limits of
the stabiliser (the causal look-ahead, underflow of phi(q)_i phi(k)_i for very long q, k) are described
in the NumPy mirror.
"""
import math

import torch

from .._checks import check_qkv, check_causal_lengths, check_projection, check_same_device, check_eps, check_causal
from .reassociation import linear_attention_from_features

KINDS = ("positive", "hyperbolic", "trig")


def _finite_max(x, dims):
    """max of x over dims ignoring NaN and inf, 0 where nothing is finite (n = 0); no gradient (it cancels)."""
    x = x.detach()
    if x.numel() == 0:
        return x.new_zeros(*x.shape[:-2], 1, 1) if len(dims) == 2 else x.new_zeros(*x.shape[:-1], 1)
    top = torch.where(torch.isfinite(x), x, float("-inf")).amax(dim=dims, keepdim=True)
    return torch.where(torch.isfinite(top), top, torch.zeros_like(top))


def _stabilised_features(x, w, kind, is_query, eps):
    m = w.shape[0]
    half_sq = 0.5 * (x * x).sum(-1, keepdim=True)                       # (..., n, 1)
    wx = x @ w.to(x.dtype).T                                              # (..., n, m)
    if kind == "trig":
        shift = half_sq if is_query else _finite_max(half_sq, (-2, -1))
        return torch.exp(half_sq - shift) * torch.cat([torch.sin(wx), torch.cos(wx)], -1) / math.sqrt(m)
    if kind == "positive":
        expo, scale = wx - half_sq, 1.0 / math.sqrt(m)
    else:
        expo, scale = torch.cat([wx, -wx], -1) - half_sq, 1.0 / math.sqrt(2 * m)
    dims = (-1,) if is_query else (-2, -1)
    expo = expo - _finite_max(expo, dims)                                # constant per row / sequence: cancels
    return torch.exp(expo) * scale + eps


def performer_attention(q, k, v, w, kind="positive", causal=False, eps=0.0):
    """FAVOR+ estimate of softmax_attention(q, k, v, causal=causal).  q, k: (..., n, d), v: (..., n, d_v), w: (m, d)."""
    check_qkv(q, k, v, "torch")
    d = q.shape[-1]
    check_projection("w", w, d, "torch")
    check_same_device(q=q, k=k, v=v, w=w)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} (got kind = {kind!r})")
    check_eps(eps)
    check_causal(causal)
    if causal:
        check_causal_lengths(q, k)
    c = d ** -0.25
    phi_q = _stabilised_features(q * c, w, kind, True, eps)
    phi_k = _stabilised_features(k * c, w, kind, False, eps)
    return linear_attention_from_features(phi_q, phi_k, v, causal=causal)
