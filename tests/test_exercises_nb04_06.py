"""Checkers of notebooks 04-06 accept the right answer and reject plausible wrong ones (with a reason)."""
import numpy as np

from linattn_edu.exercises import nb04, nb05, nb06


def _rejects(fb, *words):
    assert fb.ok is False, fb
    for w in words:
        assert w in fb.message, fb.message


def test_nb04_ex1_constant():
    c = (1 - np.exp(-2)) ** 2 / 2
    assert nb04.ex1(c).ok
    _rejects(nb04.ex1(2 * c), "1/2")
    assert nb04.ex1(0.3).ok is False


def test_nb04_ex3_var_cosh():
    assert nb04.ex3(lambda z2: np.expm1(z2) ** 2 / 2).ok
    _rejects(nb04.ex3(lambda z2: np.expm1(z2) ** 2), "factor 2")
    _rejects(nb04.ex3(lambda z2: np.exp(z2) * np.expm1(z2)), "positive")


def test_nb04_ex4_trig_estimates():
    right = lambda x, y, W: np.exp((x @ x + y @ y) / 2) * np.cos(W @ (x - y)).mean(axis=-1)
    assert nb04.ex4(right).ok
    _rejects(nb04.ex4(lambda x, y, W: np.cos(W @ (x - y)).mean(axis=-1)), "Gaussian kernel")
    _rejects(nb04.ex4(lambda x, y, W: np.exp((x @ x + y @ y) / 2) * np.cos(W @ (x + y)).mean(axis=-1)), "x + y")


def test_nb05_ex1_eps_output():
    assert nb05.ex1(lambda K, v, eps: (K @ v + eps * v.sum(0)) / (K.sum() + len(K) * eps)).ok
    _rejects(nb05.ex1(lambda K, v, eps: (K @ v + eps * v.sum(0)) / K.sum()), "normaliser")


def test_nb05_ex3_theorem4_factor():
    from linattn_edu import theory
    right = theory.theorem4_features(16, 3, 0.1) / theory.theorem4_features(16, 2, 0.1)
    assert nb05.ex3(right).ok
    _rejects(nb05.ex3(np.exp(2.5)), "log factor")


def test_nb05_ex5_trig_estimate():
    assert nb05.ex5(lambda x, y, w: np.exp((x @ x + y @ y) / 2) * np.mean(np.cos(w @ (x - y)))).ok
    _rejects(nb05.ex5(lambda x, y, w: np.exp((x @ x + y @ y) / 2) * np.sum(np.cos(w @ (x - y)))), "average")


def test_nb06_ex2_jl_error():
    assert nb06.ex2(lambda n, k: (n + 1) / k).ok
    _rejects(nb06.ex2(lambda n, k: n / k), "fourth moment")
    _rejects(nb06.ex2(lambda n, k: 1 + (n + 1) / k), "subtract")


def test_nb06_ex3_n_quarter():
    n = next(n for n in range(16, 100_000) if 5 * np.log(n) / 0.125 < n / 4)
    assert nb06.ex3(n).ok
    n_wrong = next(n for n in range(16, 100_000) if 5 * np.log(n) / 0.25 < n / 4)
    _rejects(nb06.ex3(n_wrong), "eps^3")


def test_nb06_ex4_exact_linformer():
    g = np.random.default_rng(3)
    d = 32
    vocab = 0.75 * g.standard_normal((8, d))
    tok = g.integers(0, 8, 128)
    tok[:8] = np.arange(8)
    q, k, v = vocab[g.integers(0, 8, 128)], vocab[tok], g.standard_normal((128, 4))
    groups = (tok[None, :] == np.arange(8)[:, None]).astype(float)
    counts = groups.sum(1)
    M = groups / counts[:, None]
    alpha = np.linalg.solve(vocab @ vocab.T, np.ones(8))
    E = M + np.sqrt(d) * np.log(counts)[:, None] * (alpha @ M)[None, :]
    assert nb06.ex4(E, M, q, k, v).ok
    _rejects(nb06.ex4(M, M, q, k, v), "log c_t")
    _rejects(nb06.ex4(M[:4], M[:4], q, k, v), "shape")
