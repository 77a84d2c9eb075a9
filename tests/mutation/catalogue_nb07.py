"""Mutants of the formulas notebook 07 teaches: the decay recurrence, the log-space mask, the chunkwise form, padding."""
NB = "notebooks/07_decay_gating_and_ssd.ipynb"

MUTANTS = [
    dict(id="nb07-torch-pad-decay", file="linattn_edu/torch/chunkwise_fast.py",
         old="    g = _pad_seq(g, pad, 2 if per_feature else 1)\n",
         new="    g = F.pad(g, (0, 0, 0, pad) if per_feature else (0, pad), value=-1.0)\n",
         taught_by=NB, why="torch chunkwise form (chunkwise_fast, what decayed_linear_attention runs) pads with a = e^-1 instead of a = 1: wrong final state when n % C != 0"),
    dict(id="nb07-decay-after-update", file="linattn_edu/numpy/gating.py",
         old="S = a * S + k[..., t, :, None] * v[..., t, None, :]             # S_t = a_t S_{t-1} + k_t v_t^T",
         new="S = a * (S + k[..., t, :, None] * v[..., t, None, :])           # S_t = a_t S_{t-1} + k_t v_t^T",
         taught_by=NB, why="recurrence decays after the write: the new token is shrunk by a_t too (NumPy)"),
    dict(id="nb07-chunk-inter-sign", file="linattn_edu/numpy/gating.py",
         old="inter = np.exp(b)[..., :, None] * (qc @ S)",
         new="inter = np.exp(-b)[..., :, None] * (qc @ S)",
         taught_by=NB, why="chunked form: log-decay sign flipped on the inter-chunk term diag(exp(b)) Q S"),
    dict(id="nb07-per-feature-to-end", file="linattn_edu/numpy/gating.py",
         old="k_to_end = kc * np.exp(b[..., -1:, :] - b)                  # k_j ⊙ exp(b_C - b_j)",
         new="k_to_end = kc * np.exp(b[..., -1:, :])                      # k_j ⊙ exp(b_C - b_j)",
         taught_by=NB, why="per-feature (GLA) chunked state update decays every key by the whole chunk (exp(b_C), not exp(b_C - b_j))"),
    dict(id="nb07-torch-initial-state-dropped", file="linattn_edu/torch/chunkwise_fast.py",
         old="    pad = N * C - n                                                        # padding: q = k = v = 0, g = 0\n",
         new="    pad = N * C - n                                                        # padding: q = k = v = 0, g = 0\n"
             "    S0 = 0 * S0                                                            # the state passed in is dropped\n",
         taught_by=NB, why="torch chunkwise form (chunkwise_fast): the state passed in is not carried"),
    dict(id="nb07-decay-mask-sign", file="linattn_edu/numpy/gating.py",
         old="diff = np.where(causal, B[..., :, None] - B[..., None, :], -np.inf)  # (..., n, n), B_i - B_j",
         new="diff = np.where(causal, B[..., None, :] - B[..., :, None], -np.inf)  # (..., n, n), B_i - B_j",
         taught_by=NB, why="decay mask built as exp(B_j - B_i): log-decay sign, weights grow with distance"),
]
