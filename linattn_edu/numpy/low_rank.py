"""Linformer (Wang et al. 2020): project keys and values along the sequence to k << n rows.

    out = softmax(Q (E K)^T / sqrt(d)) (F V),    E, F: (k, n)

Cost O(n k d) instead of O(n^2 d). E and F mix positions, so a query sees every key through them:
Linformer cannot be causal (notebook 06 shows the leak).
"""
import numpy as np

from .._checks import check_qkv, check_array, check_scale
from .attention import softmax_attention


def linformer_attention(q, k, v, E, F, scale=None):
    """q: (..., n, d), k: (..., n, d), v: (..., n, d_v), E, F: (k_proj, n) -> (..., n, d_v).

    scale=None means 1/sqrt(d), the same temperature as softmax_attention.
    """
    check_qkv(q, k, v, "numpy")
    n = k.shape[-2]
    for name, P in (("E", E), ("F", F)):
        check_array(name, P, "numpy", min_ndim=2)
        if P.ndim != 2 or P.shape[-1] != n:
            raise ValueError(f"{name} must have shape (k, n) with n = {n}, the sequence length of k and v "
                             f"(got {name}: {tuple(P.shape)})")
    if E.shape[0] != F.shape[0]:
        raise ValueError(f"E and F must project to the same k (got E: {tuple(E.shape)}, F: {tuple(F.shape)})")
    check_scale(scale)
    k_proj = E @ k                                    # (k, n) @ (..., n, d) -> (..., k, d)
    v_proj = F @ v                                    # (..., k, d_v)
    return softmax_attention(q, k_proj, v_proj, scale=scale)
