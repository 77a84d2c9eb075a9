"""Checkers for notebook 12 (context parallelism)."""
import numpy as np

from . import close_to, is_stub, not_attempted, right, wrong


def ex1(combine):
    """combine(first, second) -> (a, B): the decay map of two consecutive slices, first then second.

    A decay map is (a, B) with T(S) = a S + B, a: (...,) one decay per sequence, B: (..., d_k, d_v).
    """
    if is_stub(combine):
        return not_attempted()
    if not callable(combine):
        return wrong("combine should be a function combine(first, second) -> (a, B)")
    g = np.random.default_rng(12)
    a1, a2 = g.uniform(0.2, 0.9, 3), g.uniform(0.2, 0.9, 3)
    B1, B2, S = (g.standard_normal((3, 4, 2)) for _ in range(3))
    apply = lambda a, B, S: a[:, None, None] * S + B
    try:
        result = combine((a1, B1), (a2, B2))
        if result is None or result is Ellipsis:            # the stub's body is still `...`
            return not_attempted("combine returns nothing yet: write its body and run the cell again")
        a, B = result
        a, B = np.asarray(a, dtype=float), np.asarray(B, dtype=float)
    except Exception as e:                       # the student's code raised: say what
        return wrong(f"combine raised {type(e).__name__}: {e}")
    want = apply(a2, B2, apply(a1, B1, S))
    if a.shape != a1.shape or B.shape != B1.shape:
        return wrong(f"combine should return a of shape {a1.shape} and B of shape {B1.shape} (got {a.shape}, {B.shape})")
    got = apply(a, B, S)
    if np.allclose(got, want, atol=1e-12):
        return right("T_2(T_1(S)) = a_2 a_1 S + (a_2 B_1 + B_2): the combined map is again a decay map")
    if np.allclose(got, apply(a1, B1, apply(a2, B2, S)), atol=1e-12):
        return wrong("that is the second slice applied first: the first slice's B must be decayed by the second's a")
    if np.allclose(B, B1 + B2):
        return wrong("B = B_1 + B_2 forgets that the second slice decays what the first wrote: a_2 B_1 + B_2")
    return wrong("T(S) = a S + B with your (a, B) differs from applying the first map and then the second")


def ex2(answer):
    """Bytes one rank receives in the all-gather scan: P = 8, B*H = 32, m = d_v = 128, float32 states."""
    expected = 7 * 32 * 128 * (128 + 1) * 4
    return close_to(answer, expected, name="bytes", rtol=1e-9, hints=[
        (128 / 129, "the normaliser z (m more values per head) travels too: m (d_v + 1)"),
        (8 / 7, "a rank does not receive its own slice map: P - 1 of them"),
        (0.5, "the states are float32 (4 bytes), not 16-bit"),
        (1 / 7, "all-gather brings every other rank's map, P - 1 of them, not one"),
    ])
