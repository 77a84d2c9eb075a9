"""Checkers for notebook 09 (the recall gap).

    from linattn_edu.exercises import nb09 as ex
    ex.ex1(n)                   # largest context n whose KV cache (d_k = d_v = 4) fits in a 16 x 16 state
    ex.ex2(recall_fraction)     # a function (S, keys, values) -> fraction of keys read back correctly

Expected values are computed here with plain NumPy or a closed form, not with the library.
"""
import numpy as np

from . import is_stub, not_attempted, right, wrong


def ex1(n):
    """Largest n with n (d_k + d_v) <= 16 * 16 for d_k = d_v = 4: 256 / 8 = 32."""
    if is_stub(n):
        return not_attempted()
    try:
        n = int(n) if float(n) == int(n) else float(n)
    except (TypeError, ValueError):
        return wrong(f"give a whole number of tokens (got {n!r})")
    if n == 32:
        return right("32 tokens: a 4-wide softmax head's cache outgrows the 16 x 16 state after 32 tokens")
    if n == 64:
        return wrong("that counts only the keys (n d_k): the cache holds keys and values, n (d_k + d_v)")
    if n == 16:
        return wrong("the state is 16 x 16 = 256 floats and each cached token costs d_k + d_v = 8: 256 / 8")
    if n == 2:
        return wrong("compare with the state 16 x 16 = 256 floats, not with 16 floats")
    return wrong(f"{n} tokens cache {n} x (4 + 4) = {n * 8} floats; the state holds 16 x 16 = 256")


def _reference(S, keys, values):
    read = keys @ S
    return float(np.mean(np.argmax(read @ values.T, axis=1) == np.arange(len(keys))))


def ex2(recall_fraction):
    """recall_fraction(S, keys, values) -> fraction of i with argmax_j v_j . (S^T k_i) == i."""
    if is_stub(recall_fraction):
        return not_attempted()
    if not callable(recall_fraction):
        return wrong("pass the function itself (recall_fraction), not its result")
    g = np.random.default_rng(9)
    results = {}
    for d_k in (4, 16):
        if d_k >= 15:                                                 # room for 15 orthonormal keys
            keys = np.linalg.qr(g.standard_normal((d_k, d_k)))[0][:15]
        else:                                                         # 15 unit keys in 4 dimensions
            keys = g.standard_normal((15, d_k))
            keys /= np.linalg.norm(keys, axis=1, keepdims=True)
        values = g.standard_normal((15, 16))
        S = keys.T @ values                                           # sum_i k_i v_i^T, (d_k, d_v)
        try:
            got = recall_fraction(S, keys, values)
        except Exception as err:
            return wrong(f"your function raised {type(err).__name__}: {err}")
        if got is None:
            return not_attempted("your function returns None: write its body and run the cell again")
        try:
            got = float(got)
        except (TypeError, ValueError):
            return wrong(f"return one number, the fraction (got {type(got).__name__})")
        want = _reference(S, keys, values)
        if abs(got - want) > 1e-12:
            if abs(got - want * len(keys)) < 1e-9:
                return wrong("that is the count of recalled keys: divide by the number of keys")
            swapped = float(np.mean(np.argmax((values @ S.T) @ keys.T, axis=1) == np.arange(len(keys))))
            if abs(got - swapped) < 1e-12 and abs(swapped - want) > 1e-12:
                return wrong("you read the memory with the values: the read at key i is S^T k_i (keys @ S)")
            return wrong(f"with d_k = {d_k} the fraction is {want:.3f}, you return {got:.3f}: read S^T k_i, "
                         "compare it with every stored value by dot product, take the argmax")
        results[d_k] = want
    return right(f"15 keys in 4 dimensions: {results[4]:.2f} recalled; 15 orthonormal keys in 16 dimensions: "
                 f"{results[16]:.2f}")
