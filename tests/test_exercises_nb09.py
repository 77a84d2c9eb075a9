"""Notebook 09's checkers: each accepts the right answer and rejects plausible wrong ones, saying why."""
import numpy as np

from linattn_edu.exercises import nb09 as ex


def test_ex1():
    assert ex.ex1(...).ok is None
    assert ex.ex1(32).ok is True
    for wrong, why in ((64, "keys and values"), (16, "256 / 8"), (2, "256")):
        fb = ex.ex1(wrong)
        assert fb.ok is False and why in fb.message


def _right(S, keys, values):
    return float(np.mean(np.argmax((keys @ S) @ values.T, axis=1) == np.arange(len(keys))))


def test_ex2():
    assert ex.ex2(...).ok is None
    assert ex.ex2(_right).ok is True
    count = ex.ex2(lambda S, k, v: float(np.sum(np.argmax((k @ S) @ v.T, axis=1) == np.arange(len(k)))))
    assert count.ok is False and "count" in count.message
    swapped = ex.ex2(lambda S, k, v: float(np.mean(np.argmax((v @ S.T) @ k.T, axis=1) == np.arange(len(k)))))
    assert swapped.ok is False and "values" in swapped.message
    no_argmax = ex.ex2(lambda S, k, v: float(np.mean(np.abs(k @ S - v).sum(1) < 1e-6)))   # exact recall only
    assert no_argmax.ok is False
    assert ex.ex2(lambda S, k, v: None).ok is None
