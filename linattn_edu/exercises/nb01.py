"""Checkers for notebook 01 (attention is a kernel smoother).

    from linattn_edu.exercises import nb01 as ex
    ex.ex1(my_softmax_weights)      # a function (q, k, tau) -> (n_q, n) weights
    ex.ex2(scale)                   # the scale that undoes multiplying the queries by c = 3 at tau = 2
    ex.ex3(answer)                  # dict: similarity -> (non-negative?, number of features m or None)
    ex.ex4(x10, q95)                # where Taylor is 10% below exp; the 95% quantile of |q.k| at d = 4

Every expected value here is computed independently of the library (plain NumPy, or a closed form).
"""
import numpy as np

from . import close_to, is_stub, not_attempted, right, wrong


def _reference_softmax(q, k, tau):
    s = q @ k.T / tau                                        # (n_q, n)
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=1, keepdims=True)


def _call(fn, *args):
    try:
        with np.errstate(all="ignore"):
            return np.asarray(fn(*args), dtype=float), None
    except Exception as err:                                 # the student's code raised: say so
        return None, f"your function raised {type(err).__name__}: {err}"


def ex1(my_softmax_weights):
    """my_softmax_weights(q, k, tau) -> softmax(q k^T / tau) row by row, stable for large scores."""
    if is_stub(my_softmax_weights):
        return not_attempted()
    if not callable(my_softmax_weights):
        return wrong("pass the function itself (my_softmax_weights), not its result")
    g = np.random.default_rng(11)
    q, k = g.standard_normal((5, 3)), g.standard_normal((7, 3))
    for tau in (2.0, 0.5):
        got, err = _call(my_softmax_weights, q, k, tau)
        if err:
            return wrong(err)
        if got.ndim == 0 and np.isnan(got):            # np.asarray(None, float) is nan: the stub body
            return not_attempted("your function returns None: write its body and run the cell again")
        want = _reference_softmax(q, k, tau)
        if got.shape != want.shape:
            return wrong(f"the weights should have shape (n_q, n) = {want.shape}, got {got.shape}")
        if np.allclose(got, want, rtol=1e-9, atol=1e-12):
            continue
        if np.allclose(got.sum(axis=0), 1.0) and not np.allclose(got.sum(axis=1), 1.0):
            return wrong("your columns sum to 1, the rows should: normalise over keys (axis=1)")
        for name, t in (("multiplied the scores by tau instead of dividing", 1 / tau),
                        ("used tau = 1 (no temperature)", 1.0)):
            if np.allclose(got, _reference_softmax(q, k, t), rtol=1e-9):
                return wrong(f"close, but you {name}: the weights are exp(q.k / tau) normalised")
        return wrong(f"the weights differ from softmax(q k^T / tau) by up to {np.abs(got - want).max():.3g} "
                     f"(tau = {tau})")
    big = 300.0 * np.eye(4)                                  # scores up to 9e4 / tau: exp overflows
    got, err = _call(my_softmax_weights, big, big, 0.5)
    if err:
        return wrong(err)
    if not np.all(np.isfinite(got)):
        return wrong("for large scores your weights are inf or NaN: subtract each row's maximum before "
                     "exp (it cancels in the ratio)")
    if not np.allclose(got, np.eye(4), atol=1e-12):
        return wrong("for scores that differ by 1e5 the weights should be one-hot")
    return right("rows are softmax(q k^T / tau), stable for large scores")


def ex2(scale):
    """The scale s with attention_weights(3 q, k, scale=1/2) == attention_weights(q, k, scale=s)."""
    c, tau = 3.0, 2.0
    return close_to(scale, c / tau, name="the scale", rtol=1e-9,
                    hints=[((tau / c) / (c / tau), "inverted: the scale multiplies q.k, so c q with 1/tau "
                                                   "is q with c / tau"),
                           ((1 / (c * tau)) / (c / tau), "c multiplies the scores, it does not divide them")])


SIMILARITIES = ("(q.k)^2", "cos(q, k)", "exp(-|q-k|^2)", "1 + q.k + (q.k)^2/2")


def ex3(answer, d=4):
    """answer: {similarity: (non_negative: bool, m: int or None)}; m = None: no finite feature map."""
    if is_stub(answer):
        return not_attempted()
    if not isinstance(answer, dict) or set(answer) != set(SIMILARITIES):
        return wrong(f"answer should be a dict with exactly the keys {SIMILARITIES}")
    expected = {"(q.k)^2": (True, {d * d, d * (d + 1) // 2}),
                "cos(q, k)": (False, {d}),
                "exp(-|q-k|^2)": (True, {None}),
                "1 + q.k + (q.k)^2/2": (True, {1 + d + d * d})}
    why = {"(q.k)^2": f"(q.k)^2 = vec(qq^T).vec(kk^T) >= 0: phi(x) = vec(x x^T), m = d^2 = {d * d}",
           "cos(q, k)": f"cos = (q/|q|).(k/|k|) factors with m = d = {d}, but it is negative for obtuse angles",
           "exp(-|q-k|^2)": "the Gaussian kernel is positive, but its feature space is infinite-dimensional "
                            "(random Fourier features only approximate it): m = None",
           "1 + q.k + (q.k)^2/2": f">= 1/2 and factors with [1, x, vec(x x^T)/sqrt 2]: m = 1 + d + d^2 = {1 + d + d * d}"}
    for key in SIMILARITIES:
        item = answer[key]
        if is_stub(item):
            return not_attempted(f"fill in {key!r}")
        if not (isinstance(item, tuple) and len(item) == 2):
            return wrong(f"{key!r}: give a pair (non_negative, m), e.g. (True, 16) or (True, None)")
        nonneg, m = item
        if bool(nonneg) != expected[key][0]:
            return wrong(f"{key!r}: non-negative is {expected[key][0]}: {why[key]}")
        if m not in expected[key][1]:
            return wrong(f"{key!r}: m = {m!r} is not right: {why[key]}")
    return right("all four right (for (q.k)^2 both m = d^2 and the symmetric m = d(d+1)/2 work)")


def _bisect(f, lo, hi):
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.sign(f(mid)) == np.sign(f(lo)) else (lo, mid)
    return 0.5 * (lo + hi)


def taylor_10pct_point():
    """x > 0 with 1 + x + x^2/2 = 0.9 e^x."""
    return _bisect(lambda x: 1 + x + x * x / 2 - 0.9 * np.exp(x), 0.1, 5.0)


def abs_dot_quantile_d4(p=0.95):
    """The p-quantile of |q.k| for q, k ~ N(0, I_4): P(|q.k| > x) = (2 + x) e^{-x} / 2 (closed form)."""
    return _bisect(lambda x: (2 + x) * np.exp(-x) / 2 - (1 - p), 0.0, 50.0)


def ex4(x10, q95):
    """x10: where 1 + x + x^2/2 = 0.9 e^x (x > 0); q95: the 95% quantile of |q.k| at d = 4."""
    if is_stub(x10, q95):
        return not_attempted()
    fb = close_to(x10, taylor_10pct_point(), name="x10", rtol=1e-3)
    if not fb.ok:
        return fb
    true_q = abs_dot_quantile_d4()
    try:
        q = float(q95)
    except (TypeError, ValueError):
        return wrong("q95 should be a number")
    if abs(q - true_q) <= 0.01 * true_q:
        return right(f"x10 = {taylor_10pct_point():.3f} and the 95% quantile of |q.k| is {true_q:.2f}: "
                     f"tau = {true_q / taylor_10pct_point():.2f}")
    if abs(q - 2 * 1.96) < 0.02:
        return wrong("3.92 = 1.96 sqrt(d) is the normal approximation. At d = 4, q.k is a sum of only four "
                     "products and has heavier tails than a normal: estimate the quantile from samples "
                     "(or from its density (1 + |x|) e^{-|x|} / 4)")
    one_sided = _bisect(lambda x: (2 + x) * np.exp(-x) / 4 - 0.05, 0.0, 50.0)
    if abs(q - one_sided) <= 0.01 * one_sided:
        return wrong("that is the one-sided quantile of q.k; the question asks for |q.k|")
    return wrong(f"q95 = {q:.4g} is off by a factor {q / true_q:.3g}: it should be the value that 95% of "
                 "|q.k| (q, k ~ N(0, I_4)) lie below")
