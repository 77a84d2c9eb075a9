"""Mutants of the formulas notebook 08 teaches: the delta rule, WY/UT, Gated DeltaNet, padding, carried state."""
NB = "notebooks/08_delta_rule.ipynb"

MUTANTS = [
    dict(id="nb08-delta-beta-erase", file="linattn_edu/numpy/delta_rule.py",
         old="S = S + kt[..., :, None] * (bt * (vt - old))[..., None, :]      # + beta_t k_t (v_t - old)^T",
         new="S = S + kt[..., :, None] * (bt * vt - old)[..., None, :]        # + beta_t k_t (v_t - old)^T",
         taught_by=NB, why="delta rule without beta in the erase term: (I - k k^T) S + beta k v^T (NumPy)"),
    dict(id="nb08-torch-wy-no-beta", file="linattn_edu/torch/chunkwise_fast.py",
         old="rhs = torch.cat([bc * kf, bc * vc.to(acc)], dim=-1)",
         new="rhs = torch.cat([kf, bc * vc.to(acc)], dim=-1)",
         taught_by=NB, why="torch UT transform (chunkwise_fast, what delta_rule_attention runs): W = T K computed without diag(beta)"),
    dict(id="nb08-gated-decay-sign", file="linattn_edu/numpy/gated_delta.py",
         old="S = np.exp(log_decay[..., t, None, None]) * S                   # S' = a_t S_{t-1}: forget first",
         new="S = np.exp(-log_decay[..., t, None, None]) * S                  # S' = a_t S_{t-1}: forget first",
         taught_by=NB, why="gated delta recurrence: log-decay sign (a_t = exp(-log a_t) > 1)"),
    dict(id="nb08-gated-decay-after-update", file="linattn_edu/numpy/gated_delta.py",
         old="out[..., t, :] = np.einsum(\"...k,...kv->...v\", q[..., t, :], S)\n    return out, S\n\n\ndef gated_wy",
         new="S = np.exp(log_decay[..., t, None, None]) * S                   # decayed after the update\n"
             "        out[..., t, :] = np.einsum(\"...k,...kv->...v\", q[..., t, :], S)\n    return out, S\n\n\ndef gated_wy",
         taught_by=NB, why="gated delta recurrence decays twice, the second time after the write (NumPy)"),
    dict(id="nb08-gated-wy-off-by-one", file="linattn_edu/numpy/gated_delta.py",
         old="g = np.exp(b[..., r, None] - b[..., :r]) * gram[..., :r, r]",
         new="g = np.exp(b[..., r - 1, None] - b[..., :r]) * gram[..., :r, r]",
         taught_by=NB, why="gated WY forward substitution: decay Gamma_{r-1,i} instead of Gamma_{r,i} (off by one token)"),
    dict(id="nb08-torch-gated-pad-decay", file="linattn_edu/torch/chunkwise_fast.py",
         old="beta, g = _pad_seq(beta, pad, 1), _pad_seq(g, pad, 1)",
         new="beta, g = _pad_seq(beta, pad, 1), F.pad(g, (0, pad), value=-1.0)",
         taught_by=NB, why="torch gated delta (chunkwise_fast) pads with a = e^-1: wrong final state when n % C != 0"),
    dict(id="nb08-torch-gated-state-not-carried", file="linattn_edu/torch/chunkwise_fast.py",
         old="trans = torch.exp(b[..., -1])[..., None, None] * eye_k - KWU[..., :d_k]",
         new="trans = 0 * (torch.exp(b[..., -1])[..., None, None] * eye_k - KWU[..., :d_k])",
         taught_by=NB, why="torch gated delta (chunkwise_fast): the state is not carried from chunk to chunk"),
]
