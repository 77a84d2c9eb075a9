"""Notebook 13's checkers accept the right answers and reject plausible wrong ones with a reason."""
import numpy as np

from linattn_edu.exercises import nb13


def test_ex1_floor():
    right = 4 * 2 * 8 * 32768 * 128 * 2 / 3.35e12 * 1e3
    assert nb13.ex1(right).ok
    assert nb13.ex1(...).ok is None
    fb = nb13.ex1(3 * 2 * 8 * 32768 * 128 * 2 / 3.35e12 * 1e3)           # forgot writing o
    assert fb.ok is False and "writing o" in fb.message
    fb = nb13.ex1(4 * 2 * 8 * 32768 * 128 * 4 / 3.35e12 * 1e3)           # 4 bytes per number
    assert fb.ok is False and "2 bytes" in fb.message
    assert nb13.ex1(right / 1e3).ok is False                              # seconds


def test_ex2_phi_prime():
    assert nb13.ex2(lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0)))).ok
    assert nb13.ex2(...).ok is None
    fb = nb13.ex2(lambda x: np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0))))
    assert fb.ok is False and "derivative is 1" in fb.message
    fb = nb13.ex2(lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0)) - 1.0))
    assert fb.ok is False and "exp(x)" in fb.message
    with np.errstate(all="ignore"):
        fb = nb13.ex2(lambda x: np.where(x > 0, 1.0, np.exp(x)) * np.where(x > 700, np.exp(x), 1.0))
    assert fb.ok is False and "finite" in fb.message
    assert nb13.ex2(lambda x: np.ones_like(x)).ok is False
