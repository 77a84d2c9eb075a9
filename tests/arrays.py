"""Array helpers shared by the library tests (a plain module: tests/browser has its own conftest)."""
import numpy as np
import torch


def qkv(rng, shape=(2, 3), n=37, d=8, d_v=5, scale=1.0):
    """Random float64 q, k, v of shapes (*shape, n, d), (*shape, n, d), (*shape, n, d_v)."""
    q = rng.standard_normal((*shape, n, d)) * scale
    k = rng.standard_normal((*shape, n, d)) * scale
    v = rng.standard_normal((*shape, n, d_v))
    return q, k, v


def T(*arrays):
    out = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
    return out if len(out) > 1 else out[0]
