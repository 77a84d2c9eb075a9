"""Checkers for notebook 05 (from kernel error to attention error).

    from linattn_edu.exercises import nb05 as ex
    ex.ex1(eps_output)        # a function (K_row: (n,), v: (n, d_v), eps) -> the output of one row with K^_ij + eps
    ex.ex3(factor)            # Theorem 4's growth factor in m from R = 2 to R = 3 at d = 16, eps = 0.1
    ex.ex5(trig_estimate)     # a function (x: (d,), y: (d,), w: (m, d)) -> the unstabilised trig estimate of exp(x.y)

Expected values are computed here from closed forms or plain NumPy, not from the library.
"""
import numpy as np

from . import call_student as _call, close_to, is_stub, not_attempted, right, wrong




def _stub_result(got):
    return got.ndim == 0 and np.isnan(got)


def ex1(eps_output):
    """o^ = (sum_j (K_j + eps) v_j) / (sum_j (K_j + eps)) = (K v + eps sum_j v_j) / (D + n eps)."""
    if is_stub(eps_output):
        return not_attempted()
    if not callable(eps_output):
        return wrong("pass the function eps_output itself")
    g = np.random.default_rng(51)
    K, v = np.exp(g.standard_normal(9)), g.standard_normal((9, 3))
    for eps in (0.0, 0.3):
        got, err = _call(eps_output, K, v, eps)
        if err:
            return wrong(err)
        if _stub_result(got):
            return not_attempted("your function returns None: write its body and run the cell again")
        want = ((K + eps) @ v) / (K + eps).sum()
        if got.shape != want.shape:
            return wrong(f"return the output row, shape (d_v,) = {want.shape}; got {got.shape}")
        if np.allclose(got, want, rtol=1e-10):
            continue
        if np.allclose(got, (K @ v + eps * v.sum(0)) / K.sum(), rtol=1e-10):
            return wrong("eps is added to every feature, so it enters the normaliser too: D + n eps")
        if np.allclose(got, (K @ v) / K.sum() + eps, rtol=1e-10):
            return wrong("eps is added to the kernel estimates K^_ij, not to the output")
        return wrong(f"at eps = {eps} your output differs from the right one by up to {np.abs(got - want).max():.3g}")
    return right("a mixture of o_i and the mean of v, with weight n eps / (D + n eps) on the mean")


def ex3(factor):
    """Theorem 4: m ∝ (d / delta^2) log(4 d^{3/4} R / delta), delta = eps e^{-R^2/sqrt d}; ratio of m at R = 3 and R = 2."""
    d, eps = 16.0, 0.1

    def m_of(R):
        delta = eps * np.exp(-R ** 2 / np.sqrt(d))
        return d / delta ** 2 * np.log(4 * d ** 0.75 * R / delta)
    want = m_of(3.0) / m_of(2.0)
    return close_to(factor, want, name="the growth factor", rtol=1e-3, hints=(
        (np.exp(2.5) / want, "that is only the h*^4 factor e^{2(9-4)/4}: the log factor also grows"),
        (np.exp(1.25) / want, "delta = eps / h*^2 enters m squared: the factor is h*^4, not h*^2"),))


def ex5(trig_estimate):
    """exp((|x|^2 + |y|^2)/2) mean_i cos(w_i . (x - y)), no stabiliser."""
    if is_stub(trig_estimate):
        return not_attempted()
    if not callable(trig_estimate):
        return wrong("pass the function trig_estimate itself")
    g = np.random.default_rng(55)
    x, y, w = 0.7 * g.standard_normal(5), 0.7 * g.standard_normal(5), g.standard_normal((6, 5))
    got, err = _call(trig_estimate, x, y, w)
    if err:
        return wrong(err)
    if _stub_result(got):
        return not_attempted("your function returns None: write its body and run the cell again")
    want = np.exp((x @ x + y @ y) / 2) * np.cos(w @ (x - y)).mean()
    if got.shape != ():
        return wrong(f"return one number (the estimate of exp(x.y)), got shape {got.shape}")
    if np.isclose(got, want, rtol=1e-10):
        return right("and it is negative whenever the mean cosine is: nothing keeps a short prefix's normaliser positive")
    if np.isclose(got, np.cos(w @ (x - y)).mean(), rtol=1e-10):
        return wrong("that estimates the Gaussian kernel; multiply by exp((|x|^2 + |y|^2)/2)")
    if np.isclose(got, np.exp((x @ x + y @ y) / 2) * np.cos(w @ (x - y)).sum(), rtol=1e-10):
        return wrong("average the m cosines (1/m), do not sum them")
    return wrong(f"your estimate {float(got):.4g} is not exp((|x|^2+|y|^2)/2) mean cos(w.(x - y)) = {want:.4g}")
