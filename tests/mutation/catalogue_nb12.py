"""Mutants of what notebook 12 teaches: the slice maps and the scan over ranks."""
NB = "notebooks/12_context_parallelism.ipynb"
F = "linattn_edu/torch/parallel.py"
MUTANTS = [
    dict(id="cp-decay-weights-inclusive", file=F,
         old="w = torch.exp((L_end[..., None, :] if per_feature else L_end[..., None]) - L)",
         new="w = torch.exp((L_end[..., None, :] if per_feature else L_end[..., None]) - L + ld)",
         taught_by=NB, why="decay slice map weights prod_{s >= t} a_s instead of prod_{s > t} a_s"),
    dict(id="cp-scan-inclusive", file=F, old="        if r == rank:\n            S_in = S\n        S = _apply(kind, As[r], Bs[r], S)",
         new="        S = _apply(kind, As[r], Bs[r], S)\n        if r == rank:\n            S_in = S",
         taught_by=NB, why="inclusive instead of exclusive scan over ranks (a rank sees its own slice twice)"),
    dict(id="cp-matrix-map-transposed", file=F, old="    return A @ S + B                                                  # (..., d_k, d_k) @ (..., d_k, d_v)",
         new="    return A.transpose(-1, -2) @ S + B", taught_by=NB, why="delta-rule slice map applied as A^T S + B"),
    dict(id="cp-linear-map-no-z", file=F, old="return None, _flatten_state(pk.transpose(-1, -2) @ v.to(acc), pk.sum(-2))",
         new="return None, _flatten_state(pk.transpose(-1, -2) @ v.to(acc), 0 * pk.sum(-2))",
         taught_by=NB, why="the normaliser z_r of a slice not sent (only S_r)"),
    dict(id="cp-allgather-grad-not-reduced", file=F, old="        dist.all_reduce(grad, group=ctx.group)\n        return grad[ctx.rank], None, None",
         new="        return grad[ctx.rank], None, None", taught_by=NB,
         why="all-gather backward keeps only the local gradient (no all-reduce over ranks)"),
]
