"""Linformer (Wang et al. 2020) in torch: out = softmax(Q (E K)^T / sqrt(d)) (F V), E, F: (k, n). Not causal."""
from .._checks import check_qkv, check_array, check_scale, check_same_device
from .attention import softmax_attention


def linformer_attention(q, k, v, E, F, scale=None):
    """q: (..., n, d), k: (..., n, d), v: (..., n, d_v), E, F: (k_proj, n) -> (..., n, d_v)."""
    check_qkv(q, k, v, "torch")
    n = k.shape[-2]
    for name, P in (("E", E), ("F", F)):
        check_array(name, P, "torch", min_ndim=2)
        if P.ndim != 2 or P.shape[-1] != n:
            raise ValueError(f"{name} must have shape (k, n) with n = {n}, the sequence length of k and v "
                             f"(got {name}: {tuple(P.shape)})")
    if E.shape[0] != F.shape[0]:
        raise ValueError(f"E and F must project to the same k (got E: {tuple(E.shape)}, F: {tuple(F.shape)})")
    check_same_device(q=q, k=k, v=v, E=E, F=F)
    check_scale(scale)
    return softmax_attention(q, E.to(k.dtype) @ k, F.to(v.dtype) @ v, scale=scale)   # (..., k, d), (..., k, d_v)
