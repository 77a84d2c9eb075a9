"""linattn_edu: linear attention, derived and implemented twice.

    from linattn_edu import numpy as lnp   # the derivations: float64, loops where a loop is the math
    from linattn_edu import torch as lt    # the same names, batched (..., n, d), any device and dtype

Glossary (code name -> symbol in the notebooks and papers)

    q, k, v      queries Q, keys K, values V; shapes (..., n, d), (..., n, d), (..., n, d_v)
    n, d, d_v    sequence length, query/key width, value width
    scale        the softmax temperature 1/sqrt(d) in exp(q.k * scale)
    phi          a feature map x -> phi(x): (..., n, d) -> (..., n, m)
    m            number of features (random features: number of draws w_i)
    w            random projection (m, d); its rows are the w_i ~ N(0, I_d)
    S, z         the causal state S_t = sum_{j<=t} phi(k_j) v_j^T  (..., m, d_v)
                 and the normaliser state z_t = sum_{j<=t} phi(k_j)  (..., m)
    chunk_size   C, the block length of the chunkwise-parallel form
    E, F         Linformer's (k, n) projections of keys and values

The package root imports neither numpy nor torch; each mirror imports its own backend.
"""

__version__ = "0.1.0"
