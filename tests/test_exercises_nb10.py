"""Notebook 10's checkers accept the right answer and reject plausible wrong ones, saying why."""
import torch

from linattn_edu.exercises import nb10 as ex

SETTING = dict(B=4, H=16, T=65536, D=64, bandwidth_TBps=4.3)


def test_ex1_stagnation_point():
    assert ex.ex1(...).ok is None
    # independent of the NumPy bit simulation: torch's own bfloat16 rounding on the CPU, one addition at a time
    z = torch.zeros((), dtype=torch.bfloat16)
    for _ in range(1000):
        z = z + torch.ones((), dtype=torch.bfloat16)
    assert ex.ex1(float(z)).ok is True and float(z) == 256.0
    for bad in (4096, 128, 257, 4080, 1000):
        fb = ex.ex1(bad)
        assert fb.ok is False and fb.message
    assert "exact sum" in ex.ex1(4096).message


def test_ex2_byte_floor():
    assert ex.ex2(..., **SETTING).ok is None
    right = 4 * 4 * 16 * 65536 * 64 * 2 / 4.3e12 * 1e3          # 2.15e9 bytes at 4.3 TB/s: 0.50 ms
    assert abs(right - 0.4995) < 1e-3
    assert ex.ex2(right, **SETTING).ok is True
    assert "output" in ex.ex2(0.75 * right, **SETTING).message
    assert "2 bytes" in ex.ex2(0.5 * right, **SETTING).message
    assert ex.ex2(right * 1e3, **SETTING).ok is False
    assert ex.ex2(1.3 * right, **SETTING).ok is False
