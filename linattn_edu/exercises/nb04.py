"""Checkers for notebook 04 (random features for the softmax kernel).

    from linattn_edu.exercises import nb04 as ex
    ex.ex1(c_bound)               # the constant c in MSE_trig >= c exp(|x|^2 + |y|^2) / m
    ex.ex3(var_cosh)              # a function |z|^2 -> Var cosh(w . z), w ~ N(0, I)
    ex.ex4(my_trig_estimates)     # a function (x, y, W: (R, m, d)) -> (R,) trigonometric estimates

Every expected value is computed here from a closed form or plain NumPy, not from the library.
"""
import numpy as np

from . import call_student as _call, close_to, is_stub, not_attempted, right, wrong




def ex1(c_bound):
    """c = (1 - e^-2)^2 / 2: from |Delta|^2 >= 2 and MSE_trig = e^{|x|^2+|y|^2} (1 - e^{-|Delta|^2})^2 / (2m)."""
    want = (1 - np.exp(-2.0)) ** 2 / 2
    return close_to(c_bound, want, name="c", rtol=1e-6, hints=(
        (2.0, "you dropped the 1/(2m)'s factor 1/2 of Lemma 2"),
        (2 / (1 - np.exp(-2.0)), "the factor (1 - e^{-|Delta|^2}) is squared in Lemma 2"),
        (1 / (1 - np.exp(-2.0)) ** 2, "use |Delta|^2 >= |x|^2 + |y|^2 >= 2, so 1 - e^{-|Delta|^2} >= 1 - e^{-2}, not 1")))


def ex3(var_cosh):
    """Var cosh(w . z) = (e^{|z|^2} - 1)^2 / 2."""
    if is_stub(var_cosh):
        return not_attempted()
    if not callable(var_cosh):
        return wrong("pass the function var_cosh itself")
    z2 = np.array([0.05, 0.3, 1.0, 2.0])
    got, err = _call(var_cosh, z2)
    if err:
        return wrong(err)
    if got.ndim == 0 and np.isnan(got):
        return not_attempted("your function returns None: write its body and run the cell again")
    want = np.expm1(z2) ** 2 / 2
    if got.shape != want.shape:
        return wrong(f"var_cosh(z2) should have the shape of z2 {want.shape} (vectorise with np.exp), got {got.shape}")
    if np.allclose(got, want, rtol=1e-9):
        return right("Var cosh(w.z) = (e^{|z|^2} - 1)^2 / 2; times Lambda^2/m this is MSE_hyp")
    if np.allclose(got, 2 * want, rtol=1e-9):
        return wrong("off by a factor 2: cosh^2 u = (cosh 2u + 1) / 2, so E cosh^2 = (e^{2|z|^2} + 1) / 2")
    if np.allclose(got, np.exp(z2) * np.expm1(z2), rtol=1e-9):
        return wrong("that is the variance of exp(w.z) (positive features), not of cosh(w.z)")
    if np.allclose(got, (np.exp(2 * z2) + 1) / 2, rtol=1e-9):
        return wrong("that is E cosh^2(w.z); subtract (E cosh(w.z))^2 = e^{|z|^2}")
    return wrong(f"var_cosh differs from the right variance by a factor {np.median(got / want):.3g}")


def ex4(my_trig_estimates):
    """exp((|x|^2+|y|^2)/2) mean_i cos(w_i . (x - y)) for each of the R projections."""
    if is_stub(my_trig_estimates):
        return not_attempted()
    if not callable(my_trig_estimates):
        return wrong("pass the function my_trig_estimates itself")
    g = np.random.default_rng(41)
    d, m, reps = 6, 5, 7
    x, y = 0.5 * g.standard_normal(d), 0.5 * g.standard_normal(d)
    W = g.standard_normal((reps, m, d))
    got, err = _call(my_trig_estimates, x, y, W)
    if err:
        return wrong(err)
    if got.ndim == 0 and np.isnan(got):
        return not_attempted("your function returns None: write its body and run the cell again")
    cosines = np.cos(np.einsum("rmd,d->rm", W, x - y))
    want = np.exp((x @ x + y @ y) / 2) * cosines.mean(axis=1)
    if got.shape != want.shape:
        return wrong(f"return one estimate per projection: shape (R,) = {want.shape}, got {got.shape}")
    if np.allclose(got, want, rtol=1e-9):
        return right("the trigonometric estimator, one line")
    if np.allclose(got, cosines.mean(axis=1), rtol=1e-9):
        return wrong("you estimate the Gaussian kernel exp(-|x-y|^2/2); multiply by exp((|x|^2+|y|^2)/2) to get exp(x.y)")
    if np.allclose(got, np.exp((x @ x + y @ y) / 2) * cosines.sum(axis=1), rtol=1e-9):
        return wrong("you summed the m cosines; the estimator averages them (1/m)")
    if np.allclose(got, np.exp((x @ x + y @ y) / 2) * np.cos(np.einsum("rmd,d->rm", W, x + y)).mean(axis=1), rtol=1e-9):
        return wrong("Bochner's cosine is of w.(x - y), not w.(x + y)")
    return wrong(f"your estimates differ from the right ones by up to {np.abs(got - want).max():.3g}")
