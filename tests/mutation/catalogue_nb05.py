"""Mutants of FAVOR+ (performer_attention) taught by notebook 05 (each caught by that notebook's asserts)."""
NB = "notebooks/05_from_kernel_error_to_attention_error.ipynb"
PF = "linattn_edu/numpy/performer.py"
PT = "linattn_edu/torch/performer.py"

MUTANTS = [
    dict(id="performer-scale-d-half", file=PF,
         old="    c = d ** -0.25\n    phi_q = _stabilised_features(q * c, w, kind, True, eps)",
         new="    c = d ** -0.5\n    phi_q = _stabilised_features(q * c, w, kind, True, eps)", taught_by=NB,
         why="queries and keys scaled by d^-1/2 instead of d^-1/4 (the kernel gets temperature d, not sqrt(d))"),
    dict(id="performer-key-max-per-row", file=PF,
         old="    axes = (-1,) if is_query else (-2, -1)",
         new="    axes = (-1,)", taught_by=NB,
         why="key stabiliser per key instead of one global constant: a per-key factor does not cancel"),
    dict(id="first-order-g-without-output", file="linattn_edu/theory.py",
         old="        g = (v - o) / D                                               # (n, d_v)",
         new="        g = v / D                                                     # (n, d_v)", taught_by=NB,
         why="delta method with g_ij = v_j / D_i: forgets that a common factor cancels (v_j - o_i)"),
    dict(id="first-order-cov-missing-1-over-m", file="linattn_edu/theory.py",
         old="    return (second - np.outer(sm, sm)) / m",
         new="    return (second - np.outer(sm, sm)) / np.sqrt(m)", taught_by=NB,
         why="covariance of the shared-draw estimates divided by sqrt(m) instead of m"),
]
