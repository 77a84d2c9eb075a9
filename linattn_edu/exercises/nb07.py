"""Checkers for notebook 07 (decay, gating and state-space duality).

    from linattn_edu.exercises import nb07 as ex
    ex.ex1(n_99)                 # tokens until the last output's weights reach 99% of their limit, h = 8
    ex.ex2(half_lives)           # the half-lives of RetNet's 8 heads, a = 1 - 2^(-5 - l)
    ex.ex3(my_decayed)           # a function (q, k, v, log_decay) -> (n, d_v): the decay recurrence by hand

The references are written from the formulas (a geometric series, a masked sum of explicit products), not
from library calls.
"""
import math

import numpy as np

from . import close_to, is_stub, not_attempted, right, wrong


def n_99(h=8.0):
    """The smallest n with a^n <= 0.01, a = 2^(-1/h): sum_j L_nj = (1 - a^n) / (1 - a) >= 0.99 / (1 - a)."""
    return math.ceil(h * math.log2(100) - 1e-12)


def ex1(answer):
    if is_stub(answer):
        return not_attempted()
    try:
        x = float(answer)
    except (TypeError, ValueError):
        return wrong("give a number of tokens")
    want = n_99()
    if x == want:
        return right(f"n = {want}: a^{want} = {2 ** (-want / 8):.4f} <= 0.01 < a^{want - 1} = {2 ** (-(want - 1) / 8):.4f}")
    if abs(x - 8 * math.log2(100)) < 1e-3:
        return wrong(f"{x:.3f} is where a^n = 0.01 exactly; a length is a whole number of tokens: round up")
    if x == want - 1:
        return wrong(f"at n = {want - 1}, a^n = {2 ** (-(want - 1) / 8):.4f} is still above 0.01: round up, not down")
    if abs(x - 8 / math.log(2) * math.log(100)) < 1:
        return wrong("did you use a = e^(-1/h)? The half-life means a^h = 1/2, so a = 2^(-1/h)")
    return wrong(f"n = {x:g} is not right: solve a^n <= 0.01 with a = 2^(-1/8) for the smallest whole n")


def retnet_half_lives():
    a = 1 - 2.0 ** (-5 - np.arange(8))
    return -1 / np.log2(a)


def ex2(half_lives):
    if is_stub(half_lives):
        return not_attempted()
    want = retnet_half_lives()
    a = 1 - 2.0 ** (-5 - np.arange(8))
    try:
        got = np.asarray(half_lives, dtype=float)
    except (TypeError, ValueError):
        return wrong("give an array of 8 half-lives, one per head")
    if got.shape == (8,) and np.allclose(got, 1 / (1 - a), rtol=1e-6):
        return wrong("that is 1 / (1 - a), the effective memory in tokens, not the half-life (where a^h = 1/2)")
    if got.shape == (8,) and np.allclose(got, -1 / np.log(a), rtol=1e-6):
        return wrong("that is the e-folding length -1/ln a; the half-life solves a^h = 1/2: h = -1/log2 a = ln 2 / (-ln a)")
    return close_to(got, want, name="the half-lives", rtol=1e-6,
                    hints=[(1 / math.log(2), "you divided by ln 2 once too often: h = ln 2 / (-ln a)"),
                           (math.log(2), "did you forget the ln 2? h = ln 2 / (-ln a) = -1 / log2 a")])


def _masked_reference(q, k, v, log_decay):
    n = q.shape[0]
    out = np.zeros((n, v.shape[1]))
    for i in range(n):
        for j in range(i + 1):
            L = math.prod(math.exp(log_decay[t]) for t in range(j + 1, i + 1))   # prod_{j < t <= i} a_t
            out[i] += L * (q[i] @ k[j]) * v[j]
    return out


def ex3(my_decayed):
    """my_decayed(q, k, v, log_decay) -> outputs (n, d_v) of S_t = a_t S_{t-1} + k_t v_t^T, o_t = S_t^T q_t."""
    if is_stub(my_decayed):
        return not_attempted()
    if not callable(my_decayed):
        return wrong("pass the function itself")
    g = np.random.default_rng(7)
    q, k, v = g.standard_normal((10, 3)), g.standard_normal((10, 3)), g.standard_normal((10, 2))
    log_decay = -g.uniform(0.1, 1.0, 10)
    try:
        got = my_decayed(q, k, v, log_decay)
    except Exception as err:
        return wrong(f"your function raised {type(err).__name__}: {err}")
    if got is None:
        return not_attempted("your function returns None: write its body")
    if isinstance(got, tuple):
        got = got[0]
    got = np.asarray(got, dtype=float)
    want = _masked_reference(q, k, v, log_decay)
    if got.shape != want.shape:
        return wrong(f"the output should have shape (n, d_v) = {want.shape}, got {got.shape}")
    if np.allclose(got, want, rtol=1e-10, atol=1e-12):
        return right("your loop equals the masked form (L ∘ Q K^T) V")
    a = np.exp(log_decay)
    after = want * 0
    S = np.zeros((3, 2))
    for t in range(10):
        S = a[t] * (S + np.outer(k[t], v[t]))
        after[t] = S.T @ q[t]
    if np.allclose(got, after, rtol=1e-10):
        return wrong("you decay after writing: S_t = a_t (S_{t-1} + k_t v_t^T) also shrinks the new token; "
                     "decay the old state first, then add k_t v_t^T")
    S = np.zeros((3, 2))
    sign = want * 0
    for t in range(10):
        S = np.exp(-log_decay[t]) * S + np.outer(k[t], v[t])
        sign[t] = S.T @ q[t]
    if np.allclose(got, sign, rtol=1e-10):
        return wrong("log_decay is log a_t <= 0: a_t = exp(log_decay_t), not exp(-log_decay_t) (your state grows)")
    return wrong(f"your outputs differ from the decayed linear attention outputs by up to {np.abs(got - want).max():.3g}")
