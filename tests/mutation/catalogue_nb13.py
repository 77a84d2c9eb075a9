"""Mutants of the Triton kernels notebook 13 builds (linattn_edu/kernels/chunked.py): mask, scan, normaliser, backward."""
NB = "notebooks/13_writing_the_kernel_in_triton.ipynb"
F = "linattn_edu/kernels/chunked.py"

MUTANTS = [
    dict(id="nb13-scores-mask-strict", file=F,
         old="return tl.where(i[:, None] >= i[None, :], A, 0.0)",
         new="return tl.where(i[:, None] > i[None, :], A, 0.0)",
         taught_by=NB, why="A_[c] masked with j < i: each token misses its own key (forward and backward)"),
    dict(id="nb13-scan-inclusive", file=F,
         old="""        tl.store(Out + (bh * N + c) * F + f, run, mask=mask)          # exclusive: before adding chunk c
        run += tl.load(X + (bh * N + c) * F + f, mask=mask, other=0.0)""",
         new="""        run += tl.load(X + (bh * N + c) * F + f, mask=mask, other=0.0)
        tl.store(Out + (bh * N + c) * F + f, run, mask=mask)          # exclusive: before adding chunk c""",
         taught_by=NB, why="inclusive scan: S_[c] already holds chunk c's own H, counted twice with A V"),
    dict(id="nb13-den-no-intra", file=F,
         old="den = tl.sum(fq * z_c[None, :], axis=1) + tl.sum(A, axis=1)   # (C,)",
         new="den = tl.sum(fq * z_c[None, :], axis=1)   # (C,)",
         taught_by=NB, why="normaliser without A 1: the keys of the token's own chunk are missing from den"),
    dict(id="nb13-dphi-is-phi", file=F,
         old="return tl.where(x > 0, 1.0, tl.exp(tl.minimum(x, 0.0)))",
         new="return tl.where(x > 0, x + 1.0, tl.exp(tl.minimum(x, 0.0)))",
         taught_by=NB, why="backward multiplies by phi(x) instead of phi'(x) = 1 for x > 0"),
    dict(id="nb13-dden-sign", file=F,
         old="return G * inv[:, None], -tl.sum(G * out, axis=1) * inv",
         new="return G * inv[:, None], tl.sum(G * out, axis=1) * inv",
         taught_by=NB, why="d den = +(G . o) / den: the quotient rule's minus sign dropped"),
]
