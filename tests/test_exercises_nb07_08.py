"""Checkers of notebooks 07 and 08: each accepts the right answer and rejects plausible wrong ones, saying why."""
import math

import numpy as np

from linattn_edu import numpy as lnp
from linattn_edu.exercises import nb07, nb08


def test_nb07_ex1_horizon():
    assert nb07.ex1(54).ok
    fb = nb07.ex1(53)
    assert fb.ok is False and "round up" in fb.message
    fb = nb07.ex1(8 * math.log2(100))
    assert fb.ok is False and "whole number" in fb.message
    assert nb07.ex1(...).ok is None


def test_nb07_ex2_half_lives():
    a = 1 - 2.0 ** (-5 - np.arange(8))
    h = np.log(0.5) / np.log(a)                       # a^h = 1/2, written independently of the checker
    assert abs(h[0] - 22.0) < 0.2 and nb07.ex2(h).ok
    fb = nb07.ex2(1 / (1 - a))
    assert fb.ok is False and "effective memory" in fb.message
    fb = nb07.ex2(-1 / np.log(a))
    assert fb.ok is False and "e-folding" in fb.message
    assert nb07.ex2(h * 1.1).ok is False
    assert nb07.ex2(...).ok is None


def _decayed(q, k, v, log_decay):
    return lnp.decayed_linear_attention(q, k, v, log_decay)[0]


def test_nb07_ex3_recurrence():
    assert nb07.ex3(_decayed).ok

    def after(q, k, v, ld):
        S, out = np.zeros((k.shape[1], v.shape[1])), []
        for t in range(len(q)):
            S = np.exp(ld[t]) * (S + np.outer(k[t], v[t])); out.append(S.T @ q[t])
        return np.array(out)
    fb = nb07.ex3(after)
    assert fb.ok is False and "decay after writing" in fb.message
    fb = nb07.ex3(lambda q, k, v, ld: _decayed(q, k, v, np.zeros_like(ld)))
    assert fb.ok is False

    def stub(q, k, v, ld):
        ...
    assert nb07.ex3(stub).ok is None and nb07.ex3(...).ok is None


def test_nb08_ex1_reflection_readback():
    assert nb08.ex1(lambda old, v: 2 * v - old).ok
    fb = nb08.ex1(lambda old, v: v)
    assert fb.ok is False and "beta = 1" in fb.message
    assert nb08.ex1(lambda old, v: v - old).ok is False
    assert nb08.ex1(...).ok is None


def test_nb08_ex2_delta_loop():
    assert nb08.ex2(lambda q, k, v, b: lnp.delta_rule_attention(q, k, v, b)[0]).ok

    def no_beta(q, k, v, b):
        S, out = np.zeros((k.shape[1], v.shape[1])), []
        for t in range(len(q)):
            S = S + np.outer(k[t], b[t] * v[t] - S.T @ k[t]); out.append(S.T @ q[t])
        return np.array(out)
    fb = nb08.ex2(no_beta)
    assert fb.ok is False and "lost its beta" in fb.message
    fb = nb08.ex2(lambda q, k, v, b: lnp.decayed_linear_attention(q, k, v, np.zeros(len(q)))[0])
    assert fb.ok is False
    assert nb08.ex2(...).ok is None


def test_nb08_ex3_gated_step():
    step = lambda S, k, v, b, a: lnp.gated_delta_rule_attention(k[None], k[None], v[None], np.array([b]),
                                                              np.array([np.log(a)]), state=S)[1]
    assert nb08.ex3(step).ok
    fb = nb08.ex3(lambda S, k, v, b, a: a * (S + b * np.outer(k, v - S.T @ k)))
    assert fb.ok is False and "after the delta step" in fb.message
    fb = nb08.ex3(lambda S, k, v, b, a: a * S - b * np.outer(k, k) @ S + b * np.outer(k, v))
    assert fb.ok is False and "undecayed" in fb.message
    fb = nb08.ex3(lambda S, k, v, b, a: S + b * np.outer(k, v - S.T @ k))
    assert fb.ok is False and "decay a is missing" in fb.message
    assert nb08.ex3(...).ok is None
