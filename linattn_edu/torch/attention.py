"""Softmax attention, the O(n^2) baseline (torch mirror of linattn_edu.numpy.attention).

    A_ij = exp(q_i . k_j * scale) / sum_l exp(q_i . k_l * scale),    out_i = sum_j A_ij v_j
"""
import math

import torch

from .._checks import check_array, check_qkv, check_causal_lengths, check_scale, check_same_device, check_causal
from .reassociation import causal_matmul


def attention_weights(q, k, causal=False, scale=None):
    """The (..., n_q, n) matrix A = softmax(q k^T * scale); causal=True zeroes j > i.  q: (..., n_q, d), k: (..., n, d)."""
    check_array("q", q, "torch", min_ndim=2)
    check_array("k", k, "torch", min_ndim=2)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the last dimension d (got q: {tuple(q.shape)}, k: {tuple(k.shape)})")
    check_same_device(q=q, k=k)
    if q.shape[-1] == 0:
        raise ValueError(f"q and k must have d >= 1 features in their last dimension (got q: {tuple(q.shape)}, k: {tuple(k.shape)})")
    check_scale(scale)
    check_causal(causal)
    if causal:
        check_causal_lengths(q, k)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    scores = (q @ k.transpose(-1, -2)) * scale                          # (..., n_q, n)
    if causal:
        n = q.shape[-2]
        mask = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)                                # subtracts the row max internally


def softmax_attention(q, k, v, causal=False, scale=None):
    """out = softmax(q k^T * scale) v.   q: (..., n_q, d), k: (..., n, d), v: (..., n, d_v) -> (..., n_q, d_v).

    The readable form: it builds the (n_q, n) matrix. For speed on a GPU use
    torch.nn.functional.scaled_dot_product_attention, which computes the same function.
    """
    check_qkv(q, k, v, "torch")
    check_same_device(q=q, k=k, v=v)
    a = attention_weights(q, k, causal=causal, scale=scale)             # (..., n_q, n)
    return causal_matmul(a, v) if causal else a @ v                     # a later non-finite v_j stays out of row i < j
