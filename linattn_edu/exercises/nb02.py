"""Checkers for notebook 02 (reassociation and its cost).

    from linattn_edu.exercises import nb02 as ex
    ex.ex1(n_flops, n_memory)          # Performer's crossover against softmax, feature map counted
    ex.ex2(cross_attention_flops)      # a function (n_q, n, m, d_v) -> (quadratic FLOPs, reassociated FLOPs)
    ex.ex3(n_star_no_normaliser)       # a function (m, d_v) -> n* of the two orders without the ones-column

The expected values are closed forms written out here (the convention of notebook 02: a multiply-add
is 2 FLOPs, an elementwise op 1 per entry), not calls of linattn_edu.costs.
"""
import math

import numpy as np

from . import close_to, is_stub, not_attempted, right, wrong

D, M, DV = 64, 256, 64                      # Performer: d = d_v = 64, m = 256 positive random features


def performer_crossover():
    """(n*_flops, n*_memory) of softmax vs linear attention with positive features computed from Q, K."""
    quad_per_n2 = 2 * D + 1 + 2 * (DV + 1)                        # Q K^T, exp, weights @ [V 1]
    lin_per_n = 4 * M * (DV + 1) + 2 * (2 * M * D + 2 * D + 3 * M)  # two orders' products + phi(Q), phi(K)
    n_flops = lin_per_n / quad_per_n2
    n_memory = M + math.sqrt(M * M + M * (DV + 1))                # n^2 = m (d_v + 1) + 2 n m
    return n_flops, n_memory


def ex1(n_flops, n_memory):
    if is_stub(n_flops, n_memory):
        return not_attempted()
    try:
        f, mem = float(n_flops), float(n_memory)
    except (TypeError, ValueError):
        return wrong("give two numbers: n*_flops and n*_memory")
    want_f, want_m = performer_crossover()
    free_f, free_m = 4 * M * (DV + 1) / (2 * D + 2 * DV + 3), math.sqrt(M * (DV + 1))
    if abs(f - free_f) < 1 and abs(mem - free_m) < 1:
        return wrong(f"{free_f:.0f} and {free_m:.0f} count phi(Q), phi(K) as free. Against softmax, which starts "
                     "from Q and K, the linear side must also compute the features (4 n m d FLOPs for the "
                     "projections) and hold them (2 n m floats)")
    projection_only = (4 * M * (DV + 1) + 4 * M * D) / (2 * D + 2 * DV + 3)
    if abs(f - want_f) > 0.005 * want_f and abs(f - projection_only) > 0.005 * projection_only:
        hint = " (did you count the projection for only one of Q and K?)" if abs(
            f - (4 * M * (DV + 1) + 2 * M * D) / (2 * D + 2 * DV + 3)) < 2 else ""
        return wrong(f"n*_flops = {f:.1f} is not right{hint}")
    if abs(mem - want_m) > 0.005 * want_m:
        if abs(mem - math.sqrt(M * (DV + 1) + 2 * M * want_m)) > 0.005 * want_m and abs(mem - free_m) < 1:
            return wrong("n*_memory: the features phi(Q), phi(K) are 2 n m floats the linear side holds")
        return wrong(f"n*_memory = {mem:.1f} is not right: solve n^2 = m (d_v + 1) + 2 n m for n")
    note = (" (with the projection alone; the norms, exp and 1/sqrt(m) of positive features add a few more)"
            if abs(f - want_f) > 0.005 * want_f else "")
    return right(f"n* ~ {want_f:.0f} (FLOPs) and {want_m:.0f} (memory), about 2x and 4x the free-phi values "
                 f"{free_f:.0f} and {free_m:.0f}{note}")


def _cross(n_q, n, m, d_v):
    quad = 2 * n_q * n * m + 2 * n_q * n * (d_v + 1) + n_q * d_v
    lin = 2 * n * m * (d_v + 1) + 2 * n_q * m * (d_v + 1) + n_q * d_v
    return quad, lin


def ex2(cross_attention_flops):
    """cross_attention_flops(n_q, n, m, d_v) -> (quadratic, reassociated), with the ones-column normaliser."""
    if is_stub(cross_attention_flops):
        return not_attempted()
    if not callable(cross_attention_flops):
        return wrong("pass the function itself")
    cases = [(7, 50, 6, 5), (1, 1000, 64, 64), (300, 20, 16, 8)]
    for n_q, n, m, d_v in cases:
        try:
            got = cross_attention_flops(n_q, n, m, d_v)
        except Exception as err:
            return wrong(f"your function raised {type(err).__name__}: {err}")
        if got is None:
            return not_attempted("your function returns None: write its body")
        try:
            gq, gl = (float(x) for x in got)
        except (TypeError, ValueError):
            return wrong("return two numbers: (quadratic FLOPs, reassociated FLOPs)")
        wq, wl = _cross(n_q, n, m, d_v)
        ok = lambda a, b, extra: abs(a - b) < 0.5 or abs(a - (b - extra)) < 0.5   # the divide is optional
        if ok(gq, wq, n_q * d_v) and ok(gl, wl, n_q * d_v):
            continue
        sq, sl = _cross(n, n_q, m, d_v)
        if ok(gq, sq, n * d_v) and ok(gl, sl, n * d_v):
            return wrong("n_q and n are swapped: the state phi(K)^T [V 1] is built from the n keys, "
                         "read out by the n_q queries")
        nq0, nl0 = _cross(n_q, n, m, d_v - 1)
        if ok(gq, nq0, n_q * (d_v - 1)) and ok(gl, nl0, n_q * (d_v - 1)):
            return wrong("you left out the normaliser column: count [V 1], width d_v + 1")
        return wrong(f"at (n_q, n, m, d_v) = {(n_q, n, m, d_v)}: expected about ({wq:.4g}, {wl:.4g}), "
                     f"got ({gq:.4g}, {gl:.4g})")
    return right("quadratic 2 n_q n (m + d_v + 1), reassociated 2 m (d_v + 1)(n + n_q), plus n_q d_v to divide: "
                 "for one query (n_q = 1) the quadratic order is cheaper")


def ex3(n_star_no_normaliser):
    """n_star_no_normaliser(m, d_v) -> n* where (phi(Q) phi(K)^T) V and phi(Q)(phi(K)^T V) cost the same."""
    if is_stub(n_star_no_normaliser):
        return not_attempted()
    if not callable(n_star_no_normaliser):
        return wrong("pass the function itself")
    for m, d_v in [(64, 64), (273, 16), (8, 100)]:
        try:
            got = n_star_no_normaliser(m, d_v)
        except Exception as err:
            return wrong(f"your function raised {type(err).__name__}: {err}")
        if got is None:
            return not_attempted("your function returns None: write its body")
        want = 2 * m * d_v / (m + d_v)
        fb = close_to(got, want, name=f"n* at m = {m}, d_v = {d_v}", rtol=1e-6)
        if fb.ok:
            continue
        if np.isclose(float(got), 2 * m * (d_v + 1) / (m + d_v + 1), rtol=1e-6):
            return wrong("that is n* with the ones-column (d_v + 1): without a normaliser, V has width d_v")
        if np.isclose(float(got), 4 * m * d_v / (m + d_v), rtol=1e-6):
            return wrong("off by 2: the quadratic order costs 2 n^2 (m + d_v), the reassociated 4 n m d_v")
        return fb
    return right("n* = 2 m d_v / (m + d_v): barely different from 2 m (d_v + 1) / (m + d_v + 1)")
