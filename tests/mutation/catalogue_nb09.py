"""Mutants of what notebook 09 teaches (MQAR task, state sizes, constant-memory decoding)."""
NB = "notebooks/09_recall_gap_mqar.ipynb"

MUTANTS = [
    dict(id="mqar-targets-unordered", file="linattn_edu/mqar.py",
         old="targets[rows, pos] = np.take_along_axis(values, order, axis=1)",
         new="targets[rows, pos] = values",
         taught_by=NB, why="query targets not permuted with their keys: the target is another key's value"),
    dict(id="mqar-state-size-no-dv", file="linattn_edu/mqar.py",
         old="return self.h * self.d_h * self.d_h",
         new="return self.h * self.d_h",
         taught_by=NB, why="fixed state counted as d_k floats instead of d_k x d_v"),
    dict(id="decode-state-not-carried", file="linattn_edu/decoding.py",
         old="S += torch.outer(fk, v[t])",
         new="S = torch.outer(fk, v[t])",
         taught_by=NB, why="recurrent decoder overwrites the state with the last pair instead of adding"),
    dict(id="decode-cache-scale", file="linattn_edu/decoding.py",
         old="K[:t + 1] @ q[t] / math.sqrt(d_k)",
         new="K[:t + 1] @ q[t] / d_k",
         taught_by=NB, why="KV-cache decoder scores scaled by 1/d_k instead of 1/sqrt(d_k)"),
    dict(id="decode-cache-floats-keys-only", file="linattn_edu/decoding.py",
         old="floats.append((t + 1) * (d_k + v.shape[1]))",
         new="floats.append((t + 1) * d_k)",
         taught_by=NB, why="KV cache memory counts the keys but not the values"),
]
