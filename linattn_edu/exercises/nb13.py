"""Checkers for notebook 13 (writing the kernel in Triton).

    from linattn_edu.exercises import nb13 as ex
    ex.ex1(floor_ms)        # memory floor of the forward, B=2, H=8, T=32768, D=128, bf16, 3.35 TB/s
    ex.ex2(phi_prime)       # a NumPy function: the derivative of elu(x) + 1

The expected values are written here from the definitions, not computed by library code.
"""
import numpy as np

from . import close_to, is_stub, not_attempted, right, wrong

_B, _H, _T, _D, _BYTES, _BW = 2, 8, 32768, 128, 2, 3.35e12


def ex1(floor_ms):
    """Time (ms) to read q, k, v and write o once."""
    expected = 4 * _B * _H * _T * _D * _BYTES / _BW * 1e3
    return close_to(floor_ms, expected, name="the memory floor (ms)", rtol=1e-3, hints=(
        (0.75, "you counted reading q, k, v but not writing o (4 tensors move, not 3)"),
        (2.0, "bfloat16 is 2 bytes per number, not 4"),
        (0.5, "count 2 bytes per bfloat16 number (and all four tensors)"),
        (1e3, "the answer is in milliseconds: bytes / (bytes per second) gives seconds"),
        (1e-3, "the answer is in milliseconds, not microseconds"),
        (1.0 / (_B * _H), "multiply by the batch B and the heads H too"),
    ))


def ex2(phi_prime):
    """phi_prime(x) = 1 for x > 0, exp(x) otherwise; finite for large |x|."""
    if is_stub(phi_prime):
        return not_attempted()
    if not callable(phi_prime):
        return wrong("pass the function itself, phi_prime, not its value")
    x = np.array([-800.0, -30.0, -2.0, -0.5, -1e-3, 1e-3, 0.5, 2.0, 30.0, 800.0])
    expected = np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0)))
    with np.errstate(all="ignore"):
        try:
            got = np.asarray(phi_prime(x.copy()), dtype=float)
        except Exception as err:  # noqa: BLE001 - any error is the student's to see
            return wrong(f"your function raised {type(err).__name__}: {err}")
    if got is None or got.shape != x.shape:
        return wrong(f"return an array of the same shape as x ({x.shape}), got {None if got is None else got.shape}")
    if not np.all(np.isfinite(got)):
        return wrong("not finite for large |x|: np.where evaluates both branches, so use exp(min(x, 0))")
    pos, neg = x > 0, x <= 0
    if np.allclose(got[pos], x[pos] + 1.0):
        return wrong("for x > 0 you returned phi(x) = x + 1; its derivative is 1")
    if np.allclose(got[neg], np.exp(x[neg]) - 1.0):
        return wrong("for x <= 0, d/dx exp(x) = exp(x): the -1 of elu cancels with the +1")
    if not np.allclose(got, expected, rtol=1e-12, atol=0.0):
        bad = x[~np.isclose(got, expected, rtol=1e-12, atol=0.0)]
        return wrong(f"wrong at x = {bad.tolist()}: phi'(x) is 1 for x > 0 and exp(x) for x <= 0")
    return right("phi'(x) = 1 for x > 0 and exp(x) otherwise, what chunk_input_grads_kernel multiplies by")
