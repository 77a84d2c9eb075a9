"""Checkers for notebook 10 (linear attention on real hardware).

ex1: the stagnation point of a bfloat16 running sum of ones (an integer).
ex2: the minimum-bytes floor of one forward pass, in milliseconds (read q, k, v once, write out once).
"""
import numpy as np

from . import close_to, is_stub, not_attempted, right, wrong

__all__ = ["ex1", "ex2", "bf16_running_sum_of_ones", "forward_byte_floor_ms"]


def bf16_running_sum_of_ones(limit=10_000):
    """The largest value a running sum of ones stored in bfloat16 reaches (simulated bit by bit in NumPy).

    bfloat16 is float32 with the low 16 bits of the mantissa dropped; round to nearest, ties to even."""
    def to_bf16(x):
        bits = np.array([x], dtype=np.float32).view(np.uint32)[0]
        rounded = (int(bits) + 0x7FFF + ((int(bits) >> 16) & 1)) & 0xFFFF0000
        return float(np.array([rounded], dtype=np.uint32).view(np.float32)[0])
    z = 0.0
    for _ in range(limit):
        nxt = to_bf16(z + 1.0)
        if nxt == z:
            return z
        z = nxt
    return z


def ex1(answer):
    """The value at which a bf16 running sum of ones stops growing."""
    if is_stub(answer):
        return not_attempted()
    try:
        a = float(answer)
    except (TypeError, ValueError):
        return wrong(f"give one number (got {type(answer).__name__})")
    want = bf16_running_sum_of_ones()
    if a == want:
        return right(f"{want:.0f} = 2^8: bfloat16 keeps 8 significant bits, so above 2^8 the spacing is 2 and "
                     "256 + 1 lies exactly half-way; round-half-to-even returns 256 for ever")
    if a == 4096:
        return wrong("4096 is the exact sum: the question is where the bf16 running sum stops")
    if a in (127, 128, 255):
        return wrong("below 2^8 every integer is exactly representable in bfloat16 (8 significant bits): "
                     "the sum is still exact there")
    if a in (257, 512, 65536):
        return wrong("257 is not a bfloat16 number: count the significant bits again (7 stored + 1 implicit)")
    if a == 4080:
        return wrong("4080 is what the GPU's cumsum gave along the innermost dimension, where it does not keep "
                     "one bf16 running total: simulate the running sum itself")
    return wrong(f"{a:g} is not it: add 1.0 to a bfloat16 number repeatedly and watch when it stops changing")


def forward_byte_floor_ms(B, H, T, D, bytes_per_element, bandwidth_TBps):
    """(read q, k, v + write out) bytes over the measured copy bandwidth, in ms."""
    return 4 * B * H * T * D * bytes_per_element / (bandwidth_TBps * 1e12) * 1e3


def ex2(answer, B, H, T, D, bandwidth_TBps):
    """The forward's minimum-bytes floor (ms) at the given setting, bf16 elements."""
    if is_stub(answer):
        return not_attempted()
    want = forward_byte_floor_ms(B, H, T, D, 2, bandwidth_TBps)
    return close_to(answer, want, name="the byte floor (ms)", rtol=0.02,
                    hints=((0.75, "you counted q, k, v but not writing the output"),
                           (0.5, "bf16 takes 2 bytes per element"),
                           (2.0, "bytes read plus written are counted once each: no factor 2 on top"),
                           (1e3, "the answer is in milliseconds, not microseconds"),
                           (1e-3, "the answer is in milliseconds, not seconds")))
