"""Mutants of Linformer taught by notebook 06 (each caught by that notebook's asserts)."""
NB = "notebooks/06_low_rank_linformer.ipynb"
LR = "linattn_edu/numpy/low_rank.py"
LT = "linattn_edu/torch/low_rank.py"

MUTANTS = [
    dict(id="linformer-E-F-swapped", file=LR,
         old="    k_proj = E @ k                                    # (k, n) @ (..., n, d) -> (..., k, d)\n    v_proj = F @ v",
         new="    k_proj = F @ k                                    # (k, n) @ (..., n, d) -> (..., k, d)\n    v_proj = E @ v",
         taught_by=NB, why="E and F swapped: keys projected with F, values with E (invisible when E = F)"),
    dict(id="linformer-no-scale", file=LR,
         old="    return softmax_attention(q, k_proj, v_proj, scale=scale)",
         new="    return softmax_attention(q, k_proj, v_proj, scale=1.0 if scale is None else scale)",
         taught_by=NB, why="Linformer scores without the 1/sqrt(d) temperature"),
    dict(id="torch-linformer-E-F-swapped", file=LT,
         old="softmax_attention(q, E.to(k.dtype) @ k, F.to(v.dtype) @ v, scale=scale)",
         new="softmax_attention(q, F.to(k.dtype) @ k, E.to(v.dtype) @ v, scale=scale)",
         taught_by=NB, why="torch mirror: E and F swapped"),
    dict(id="linformer-k-eps-squared", file="linattn_edu/theory.py",
         old="    return 5.0 * np.log(np.asarray(n, dtype=float)) / (eps ** 2 - eps ** 3)",
         new="    return 5.0 * np.log(np.asarray(n, dtype=float)) / eps ** 2",
         taught_by=NB, why="Theorem 1's k = 5 log n / eps^2, dropping the -eps^3"),
    dict(id="layer-cost-linformer-half", file="linattn_edu/theory.py",
         old="        flops = dense + 8 * n * k * d_model",
         new="        flops = dense + 4 * n * k * d_model",
         taught_by=NB, why="cost model counts only the scores and P V of Linformer, not E K and F V"),
]
