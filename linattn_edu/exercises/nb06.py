"""Checkers for notebook 06 (low rank: Linformer).

    from linattn_edu.exercises import nb06 as ex
    ex.ex2(jl_error)              # a function (n, k) -> E|(R^T R - I) w|^2 / |w|^2 for R: (k, n), entries N(0, 1/k)
    ex.ex3(n_quarter)             # the smallest n with 5 log n / (eps^2 - eps^3) < n / 4 at eps = 0.5
    ex.ex4(E, F, q, k, v)         # k = 8 projections that make Linformer exact on these few-token inputs

Expected values are computed here from closed forms or plain NumPy, not from the library.
"""
import numpy as np

from . import close_to, is_stub, not_attempted, right, wrong


def ex2(jl_error):
    """E|R^T R w|^2 = |w|^2 (1 + (n + 1)/k), so E|(R^T R - I) w|^2 = |w|^2 (n + 1)/k."""
    if is_stub(jl_error):
        return not_attempted()
    if not callable(jl_error):
        return wrong("pass the function jl_error itself")
    for n, k in ((64, 8), (256, 256), (10, 3)):
        try:
            got = float(jl_error(n, k))
        except TypeError:
            return not_attempted("your function returns None: write its body and run the cell again")
        except Exception as err:
            return wrong(f"your function raised {type(err).__name__}: {err}")
        want = (n + 1) / k
        if np.isclose(got, want, rtol=1e-9):
            continue
        if np.isclose(got, n / k, rtol=1e-9):
            return wrong("almost: the fourth moment of a Gaussian adds one more term, (n + 1)/k, not n/k")
        if np.isclose(got, 1 + (n + 1) / k, rtol=1e-9):
            return wrong("that is E|R^T R w|^2 / |w|^2; subtract the signal: E|(R^T R - I) w|^2 = E|R^T R w|^2 - |w|^2")
        return wrong(f"at n = {n}, k = {k} you give {got:.4g}; the right value is {want:.4g}")
    return right("at k = n the error is as large as the signal: (n + 1)/n ~ 1")


def ex3(n_quarter):
    eps = 0.5
    n = 2
    while 5 * np.log(n) / (eps ** 2 - eps ** 3) >= n / 4:
        n += 1
    if is_stub(n_quarter):
        return not_attempted()
    try:
        got = int(n_quarter)
    except (TypeError, ValueError):
        return wrong("give n as an integer")
    if got == n:
        return right(f"from n = {n} on, Theorem 1's k is below n / 4")
    n_eps2 = 2
    while 5 * np.log(n_eps2) / eps ** 2 >= n_eps2 / 4:
        n_eps2 += 1
    if got == n_eps2:
        return wrong("you used k = 5 log n / eps^2; Theorem 1's k is 5 log n / (eps^2 - eps^3)")
    if got in (n - 1, n + 1):
        return wrong(f"off by one: the smallest n with k < n/4 (strictly) is what is asked")
    return wrong(f"{got} is not the smallest n with 5 log n / (eps^2 - eps^3) < n / 4")


def _linformer(q, k, v, E, F):
    s = q @ (E @ k).T / np.sqrt(q.shape[-1])
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)) @ (F @ v)


def _softmax(q, k, v):
    s = q @ k.T / np.sqrt(q.shape[-1])
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)) @ v


def ex4(E, F, q, k, v):
    """E, F: (8, n) such that softmax(q (E k)^T / sqrt(d)) (F v) == softmax(q k^T / sqrt(d)) v."""
    if is_stub(E, F):
        return not_attempted()
    E, F = np.asarray(E, dtype=float), np.asarray(F, dtype=float)
    n = k.shape[0]
    if E.shape != (8, n) or F.shape != (8, n):
        return wrong(f"E and F must have shape (8, n) = (8, {n}) (got {E.shape}, {F.shape})")
    err = np.abs(_linformer(q, k, v, E, F) - _softmax(q, k, v)).max()
    if err < 1e-9:
        return right(f"exact with k = 8 (largest error {err:.1e})")
    tokens, inverse = np.unique(k, axis=0, return_inverse=True)
    inverse = np.ravel(inverse)
    groups = (inverse[None, :] == np.arange(len(tokens))[:, None]).astype(float)
    means = groups / groups.sum(axis=1, keepdims=True)
    if len(tokens) == 8 and np.allclose(np.sort(E, axis=0), np.sort(means, axis=0)):
        return wrong(f"group means give the right keys, but Linformer then weighs token t by e^s instead of c_t e^s "
                     f"(error {err:.3g}): add log c_t to the scores of group t (hint: a w with q . w = 1 for every query)")
    return wrong(f"Linformer with your E, F differs from softmax attention by up to {err:.3g}")
