"""Causal linear attention as an RNN, and its chunkwise-parallel form (Katharopoulos et al. 2020, Eq. 16-20).

    S_t = S_{t-1} + phi(k_t) v_t^T      (m, d_v)      S_0 = 0 (or a given state)
    z_t = z_{t-1} + phi(k_t)            (m,)          z_0 = 0
    out_t = S_t^T phi(q_t) / (z_t . phi(q_t))

Chunkwise (chunks of C tokens, S_[c] the state before chunk c; GLA, Yang et al. 2024, Sec. 2.2):

    out_[c] = (phi(Q_[c]) S_[c] + (phi(Q_[c]) phi(K_[c])^T ⊙ M) V_[c])
              / (phi(Q_[c]) z_[c] + (phi(Q_[c]) phi(K_[c])^T ⊙ M) 1)
    S_[c+1] = S_[c] + phi(K_[c])^T V_[c],     z_[c+1] = z_[c] + phi(K_[c])^T 1

C = 1 is the recurrence, C = n the quadratic form. Both functions return (out, state) with
state = (S, z), S: (..., m, d_v), z: (..., m), and accept state= to continue a sequence (generation).
"""
import numpy as np

from .._checks import check_qkv, check_causal_lengths, check_positive_int, check_state
from .reassociation import _features, _safe_divide, causal_matmul


def _initial_state(state, phi_k, v):
    batch, m, d_v = phi_k.shape[:-2], phi_k.shape[-1], v.shape[-1]
    check_state(state, batch, m, d_v, "numpy")
    if state is None:
        return np.zeros(batch + (m, d_v), dtype=v.dtype), np.zeros(batch + (m,), dtype=v.dtype)
    S, z = state
    return S.astype(v.dtype, copy=True), z.astype(v.dtype, copy=True)


def recurrent_linear_attention(q, k, v, phi, state=None):
    """The RNN form, one token at a time: a loop over t with a (m, d_v) state.

    q, k: (..., n, d), v: (..., n, d_v) -> out: (..., n, d_v), state = (S: (..., m, d_v), z: (..., m)).
    """
    phi_q, phi_k = _features(q, k, v, phi, causal=True)
    S, z = _initial_state(state, phi_k, v)
    out = np.empty(v.shape[:-2] + (q.shape[-2], v.shape[-1]), dtype=v.dtype)
    for t in range(q.shape[-2]):
        S = S + phi_k[..., t, :, None] * v[..., t, None, :]          # S_t = S_{t-1} + phi(k_t) v_t^T
        z = z + phi_k[..., t, :]                                      # z_t = z_{t-1} + phi(k_t)
        num = np.einsum("...m,...me->...e", phi_q[..., t, :], S)      # S_t^T phi(q_t)
        den = np.einsum("...m,...m->...", phi_q[..., t, :], z)[..., None]
        out[..., t, :] = _safe_divide(num, den)
    return out, (S, z)


def chunked_linear_attention(q, k, v, phi, chunk_size=64, state=None):
    """The chunkwise-parallel form: masked matmul inside each chunk, the state carried between chunks.

    Any n works: the last chunk is simply shorter. Returns (out, (S, z)) like the recurrent form.
    """
    check_positive_int("chunk_size", chunk_size)
    phi_q, phi_k = _features(q, k, v, phi, causal=True)
    S, z = _initial_state(state, phi_k, v)
    n = q.shape[-2]
    out = np.empty(v.shape[:-2] + (n, v.shape[-1]), dtype=v.dtype)
    for start in range(0, n, chunk_size):
        sl = slice(start, min(start + chunk_size, n))
        fq, fk, vc = phi_q[..., sl, :], phi_k[..., sl, :], v[..., sl, :]     # (..., C, m), (..., C, m), (..., C, d_v)
        sim = np.tril(fq @ np.swapaxes(fk, -1, -2))                          # (..., C, C), diagonal included
        num = fq @ S + causal_matmul(sim, vc)                                # inter-chunk + intra-chunk (tril(sim) @ vc)
        den = fq @ z[..., None] + sim.sum(axis=-1, keepdims=True)
        out[..., sl, :] = _safe_divide(num, den)
        S = S + np.swapaxes(fk, -1, -2) @ vc                                 # S_[c+1] = S_[c] + phi(K)^T V
        z = z + fk.sum(axis=-2)
    return out, (S, z)
