"""Mutants of the random-feature maps taught by notebook 04 (each caught by that notebook's asserts)."""
NB = "notebooks/04_random_features.ipynb"
RF = "linattn_edu/numpy/random_features.py"

MUTANTS = [
    dict(id="trig-no-norm-prefactor", file=RF,
         old="h = np.exp(0.5 * np.sum(x * x, axis=-1, keepdims=True)) / np.sqrt(m)",
         new="h = 1.0 / np.sqrt(m)", taught_by=NB,
         why="trig features without exp(|x|^2/2): estimates the Gaussian kernel, not exp(x.y)"),
    dict(id="positive-plus-half-norm", file=RF,
         old="return np.exp(wx - 0.5 * np.sum(x * x, axis=-1, keepdims=True)) / np.sqrt(m)",
         new="return np.exp(wx + 0.5 * np.sum(x * x, axis=-1, keepdims=True)) / np.sqrt(m)", taught_by=NB,
         why="positive features with +|x|^2/2 instead of -|x|^2/2 (sign slip in Lemma 1)"),
    dict(id="positive-one-over-m", file=RF,
         old="return np.exp(wx - 0.5 * np.sum(x * x, axis=-1, keepdims=True)) / np.sqrt(m)",
         new="return np.exp(wx - 0.5 * np.sum(x * x, axis=-1, keepdims=True)) / m", taught_by=NB,
         why="1/m instead of 1/sqrt(m) per feature: the product is off by 1/m"),
    dict(id="hyperbolic-sqrt-m", file=RF,
         old="h = np.exp(-0.5 * np.sum(x * x, axis=-1, keepdims=True)) / np.sqrt(2 * m)",
         new="h = np.exp(-0.5 * np.sum(x * x, axis=-1, keepdims=True)) / np.sqrt(m)", taught_by=NB,
         why="hyperbolic features normalised by 1/sqrt(m) instead of 1/sqrt(2m) (2m coordinates)"),
    dict(id="orthogonal-fixed-sqrt-d-norm", file=RF,
         old="norms = np.linalg.norm(rng.standard_normal((m, d)), axis=1)   # chi(d) samples",
         new="norms = np.full(m, np.sqrt(d))", taught_by=NB,
         why="orthogonal rows rescaled to the fixed norm sqrt(d) instead of chi(d) samples (E|w|^2 still d)"),
    dict(id="orthogonal-unit-norm", file=RF,
         old="    return rows * norms[:, None]",
         new="    return rows", taught_by=NB,
         why="orthogonal rows left unit-norm (no chi(d) rescaling)"),
    dict(id="orthogonal-no-sign-fix", file=RF,
         old="qmat = qmat * np.sign(np.diag(r))             # sign fix: column j times sign(R_jj)",
         new="qmat = qmat", taught_by=NB,
         why="QR without the sign fix: Q is not Haar-distributed"),
]
