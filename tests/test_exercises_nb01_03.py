"""Checkers of notebooks 01-03: each accepts the right answer and rejects plausible wrong ones, saying why."""
import math

import numpy as np

from linattn_edu import numpy as lnp
from linattn_edu.exercises import nb01, nb02, nb03


def _soft(q, k, tau):
    s = q @ k.T / tau
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --- notebook 01 ------------------------------------------------------------------------------------

def test_nb01_ex1_softmax_weights():
    assert nb01.ex1(_soft).ok
    unstable = lambda q, k, tau: np.exp(q @ k.T / tau) / np.exp(q @ k.T / tau).sum(axis=1, keepdims=True)
    fb = nb01.ex1(unstable)
    assert fb.ok is False and "maximum" in fb.message
    fb = nb01.ex1(lambda q, k, tau: _soft(q, k, tau).T if q.shape == k.shape else _soft(k, q, tau).T)
    assert fb.ok is False
    fb = nb01.ex1(lambda q, k, tau: _soft(q, k, 1 / tau))
    assert fb.ok is False and "multiplied" in fb.message

    def stub(q, k, tau):
        ...
    assert nb01.ex1(stub).ok is None


def test_nb01_ex2_scale():
    assert nb01.ex2(1.5).ok
    fb = nb01.ex2(2 / 3)
    assert fb.ok is False and "inverted" in fb.message
    assert nb01.ex2(...).ok is None


def test_nb01_ex3_similarities():
    right = {"(q.k)^2": (True, 16), "cos(q, k)": (False, 4), "exp(-|q-k|^2)": (True, None),
             "1 + q.k + (q.k)^2/2": (True, 21)}
    assert nb01.ex3(right).ok
    assert nb01.ex3({**right, "(q.k)^2": (True, 10)}).ok                     # the symmetric features
    fb = nb01.ex3({**right, "cos(q, k)": (True, 4)})
    assert fb.ok is False and "negative" in fb.message
    fb = nb01.ex3({**right, "exp(-|q-k|^2)": (True, 16)})
    assert fb.ok is False and "infinite" in fb.message
    assert nb01.ex3({**right, "1 + q.k + (q.k)^2/2": (True, 20)}).ok is False


def test_nb01_ex4_quantile_is_not_normal():
    x10, q95 = nb01.taylor_10pct_point(), nb01.abs_dot_quantile_d4()
    assert abs(x10 - 1.102) < 1e-3 and abs(q95 - 4.113) < 1e-3
    # the closed form P(|q.k| > x) = (2 + x) e^{-x} / 2 against a sample (standard error from the density)
    g = np.random.default_rng(0)
    s = np.abs(np.einsum("id,id->i", g.standard_normal((400_000, 4)), g.standard_normal((400_000, 4))))
    se = math.sqrt(0.05 * 0.95 / s.size) / ((1 + q95) * math.exp(-q95) / 2)
    assert abs(np.quantile(s, 0.95) - q95) < 5 * se
    assert nb01.ex4(x10, q95).ok
    fb = nb01.ex4(x10, 3.92)
    assert fb.ok is False and "normal" in fb.message
    fb = nb01.ex4(x10, 3.27)
    assert fb.ok is False and "one-sided" in fb.message
    assert nb01.ex4(1.0, q95).ok is False


# --- notebook 02 ------------------------------------------------------------------------------------

def test_nb02_ex1_crossover_counts_the_feature_map():
    f, m = nb02.performer_crossover()
    assert 516 < f < 518 and 542 < m < 544
    assert nb02.ex1(f, m).ok
    fb = nb02.ex1(257.0, 129.0)
    assert fb.ok is False and "free" in fb.message
    assert nb02.ex1(f, 129.0).ok is False
    assert nb02.ex1(...,...).ok is None


def test_nb02_ex2_cross_attention():
    def right(n_q, n, m, d_v):
        return (2 * n_q * n * m + 2 * n_q * n * (d_v + 1) + n_q * d_v,
                2 * n * m * (d_v + 1) + 2 * n_q * m * (d_v + 1) + n_q * d_v)
    assert nb02.ex2(right).ok
    assert nb02.ex2(lambda n_q, n, m, d_v: (right(n_q, n, m, d_v)[0] - n_q * d_v,
                                           right(n_q, n, m, d_v)[1] - n_q * d_v)).ok   # without the divide
    fb = nb02.ex2(lambda n_q, n, m, d_v: right(n, n_q, m, d_v))
    assert fb.ok is False and "swapped" in fb.message
    fb = nb02.ex2(lambda n_q, n, m, d_v: right(n_q, n, m, d_v - 1))
    assert fb.ok is False and "normaliser" in fb.message


def test_nb02_ex3_no_normaliser():
    assert nb02.ex3(lambda m, d_v: 2 * m * d_v / (m + d_v)).ok
    fb = nb02.ex3(lambda m, d_v: 2 * m * (d_v + 1) / (m + d_v + 1))
    assert fb.ok is False and "ones-column" in fb.message
    assert nb02.ex3(lambda m, d_v: 4 * m * d_v / (m + d_v)).ok is False


# --- notebook 03 ------------------------------------------------------------------------------------

def _recurrent(q, k, v, phi, exclusive=False, accumulate_z=True):
    fq, fk = phi(q), phi(k)
    S, z = np.zeros((fk.shape[1], v.shape[1])), np.zeros(fk.shape[1])
    out = np.zeros((q.shape[0], v.shape[1]))
    for t in range(q.shape[0]):
        if exclusive and t > 0:
            out[t] = fq[t] @ S / (fq[t] @ z)
        S = S + np.outer(fk[t], v[t])
        z = z + fk[t] if accumulate_z else fk[t]
        if not exclusive:
            out[t] = fq[t] @ S / (fq[t] @ z)
    return out


def test_nb03_ex1_recurrent_loop():
    assert nb03.ex1(_recurrent).ok
    fb = nb03.ex1(lambda q, k, v, phi: _recurrent(q, k, v, phi, exclusive=True))
    assert fb.ok is False and "before" in fb.message
    fb = nb03.ex1(lambda q, k, v, phi: _recurrent(q, k, v, phi, accumulate_z=False))
    assert fb.ok is False and "z is not accumulated" in fb.message


def test_nb03_ex2_kv_cache():
    assert nb03.ex2(33).ok
    assert "strictly" in nb03.ex2(32).message and nb03.ex2(32).ok is False
    assert "AND values" in nb03.ex2(66).message


def test_nb03_ex4_hand_off_state():
    g = np.random.default_rng(1)
    q, k, v = g.standard_normal((20, 3)), g.standard_normal((20, 3)), g.standard_normal((20, 2))
    _, (S, z) = lnp.recurrent_linear_attention(q[:7], k[:7], v[:7], "elu_plus_one")
    assert nb03.ex4((S, z), q, k, v, 7).ok
    fb = nb03.ex4((S, np.zeros_like(z)), q, k, v, 7)
    assert fb.ok is False and "z is still zero" in fb.message
    assert nb03.ex4(S, q, k, v, 7).ok is False
    assert nb03.ex4((S * 2, z), q, k, v, 7).ok is False


def test_nb03_ex5_c_star():
    c = math.sqrt(64 * 65 / (2 * 129))
    assert nb03.ex5(c).ok
    fb = nb03.ex5(c * math.sqrt(2))
    assert fb.ok is False and "drop the 2" in fb.message
    fb = nb03.ex5(c * c)
    assert fb.ok is False and "square root" in fb.message
