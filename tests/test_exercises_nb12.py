"""Checkers of notebook 12 accept the right answers and reject plausible wrong ones, saying why."""
from linattn_edu.exercises import nb12 as ex


def test_ex1_combine():
    assert ex.ex1(lambda f, s: (s[0] * f[0], s[0][..., None, None] * f[1] + s[1])).ok
    swapped = ex.ex1(lambda f, s: (s[0] * f[0], f[0][..., None, None] * s[1] + f[1]))
    assert swapped.ok is False and "second slice applied first" in swapped.message
    summed = ex.ex1(lambda f, s: (s[0] * f[0], f[1] + s[1]))
    assert summed.ok is False and "a_2 B_1 + B_2" in summed.message
    assert ex.ex1(lambda f, s: None).ok is None
    assert ex.ex1(lambda f, s: 1 / 0).ok is False


def test_ex2_bytes():
    assert ex.ex2(7 * 32 * 128 * 129 * 4).ok
    assert "normaliser z" in ex.ex2(7 * 32 * 128 * 128 * 4).message
    assert "P - 1" in ex.ex2(8 * 32 * 128 * 129 * 4).message
    assert "float32" in ex.ex2(7 * 32 * 128 * 129 * 2).message
    assert ex.ex2(...).ok is None
