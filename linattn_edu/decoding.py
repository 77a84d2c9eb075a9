"""Token-by-token decoding, the two ways (notebook 09): a fixed recurrent state against a growing KV cache.

    decode_recurrent(q, k, v, phi)   linear attention: S_t = S_{t-1} + phi(k_t) v_t^T, z_t = z_{t-1} + phi(k_t)
    decode_kv_cache(q, k, v)         causal softmax attention: append (k_t, v_t) to the cache, attend over it

Both take (n, d) float tensors and return (outputs (n, d_v), floats) where floats[t] is the number of floats
the decoder keeps after token t (the memory it needs to continue the sequence). One token at a time, as a
generator produces them; the outputs equal the parallel forms (checked in notebook 09).
"""
import math
import time

import torch


def _check(q, k, v):
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor) or x.ndim != 2:
            raise ValueError(f"{name} must be a 2-d tensor (n, d) (got {getattr(x, 'shape', type(x))})")
    if q.shape != k.shape or k.shape[0] != v.shape[0]:
        raise ValueError(f"q and k must have the same shape (n, d_k) and v (n, d_v) (got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)})")


def decode_recurrent(q, k, v, phi):
    """Linear attention one token at a time with a constant-size state (S: d_k x d_v, z: d_k)."""
    _check(q, k, v)
    n, d_k = k.shape
    S = torch.zeros(d_k, v.shape[1], dtype=v.dtype)
    z = torch.zeros(d_k, dtype=v.dtype)
    out, floats = torch.empty(n, v.shape[1], dtype=v.dtype), []
    for t in range(n):
        fk, fq = phi(k[t]), phi(q[t])
        S += torch.outer(fk, v[t])
        z += fk
        out[t] = fq @ S / (fq @ z)
        floats.append(S.numel() + z.numel())
    return out, floats


def decode_kv_cache(q, k, v):
    """Causal softmax attention one token at a time: the cache holds every key and value so far."""
    _check(q, k, v)
    n, d_k = k.shape
    K = torch.empty(n, d_k, dtype=k.dtype)                       # room for the whole sequence; the cache
    V = torch.empty(n, v.shape[1], dtype=v.dtype)                # in use after token t is K[:t+1], V[:t+1]
    out, floats = torch.empty(n, v.shape[1], dtype=v.dtype), []
    for t in range(n):
        K[t], V[t] = k[t], v[t]
        out[t] = torch.softmax(K[:t + 1] @ q[t] / math.sqrt(d_k), dim=0) @ V[:t + 1]
        floats.append((t + 1) * (d_k + v.shape[1]))
    return out, floats


def tokens_per_second(decode, n, d, repeats=3, seed=0, **kwargs):
    """Best-of-repeats throughput of `decode` over a random (n, d) sequence (a measurement, not a test)."""
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(n, d, generator=g, dtype=torch.float64) for _ in range(3))
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        decode(q, k, v, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return n / best
