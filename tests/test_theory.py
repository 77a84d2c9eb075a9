"""Closed forms in linattn_edu.theory against Monte Carlo of the library's own estimators.

Every statistical check is a z-score: (Monte-Carlo value - formula) / (standard error of the
Monte-Carlo value, estimated from the same sample). Seeds are fixed; |z| < Z_MAX. A formula that is
off by a factor 2 gives |z| in the tens at these sample sizes (see test_wrong_formula_is_caught).
"""
import numpy as np
import pytest

from linattn_edu import numpy as lnp
from linattn_edu import theory as th
from linattn_edu.panels.nb04_estimators import sample_kernel_estimates, mc_mse

Z_MAX = 4.5          # two-sided z bound: P(|z| > 4.5) ~ 7e-6 per check under a correct formula
REPS = 20_000        # independent projections per Monte-Carlo estimate
D = 8
# (|x|, |y|, angle): moderate |x + y| so the squared errors have finite higher moments and their
# sample standard error is itself reliable.
CASES = [(0.6, 0.6, 1.0), (0.8, 0.5, 2.0), (0.5, 0.7, 0.3)]
FORMULAS = {"trig": th.mse_trig, "positive": th.mse_positive, "hyperbolic": th.mse_hyperbolic}


def _z(kind, x, y, m, formula, seed, orthogonal=False):
    est = sample_kernel_estimates(x, y, m, kind, REPS, orthogonal=orthogonal, seed=seed)
    mc, se = mc_mse(est, th.softmax_kernel(x, y))
    return mc, float(formula), (mc - float(formula)) / se


@pytest.mark.parametrize("kind", list(FORMULAS))
@pytest.mark.parametrize("case", range(len(CASES)))
def test_lemma2_mse_matches_monte_carlo(kind, case):
    x, y = th.vectors_at_angle(*CASES[case], D)
    m = 8
    mc, f, z = _z(kind, x, y, m, FORMULAS[kind](x, y, m), seed=10 * case + len(kind))
    assert abs(z) < Z_MAX, f"{kind}: MC MSE {mc:.5g} vs formula {f:.5g}, z = {z:.2f}"


def test_estimators_are_unbiased():
    x, y = th.vectors_at_angle(0.7, 0.6, 1.3, D)
    sm = th.softmax_kernel(x, y)
    for kind in FORMULAS:
        est = sample_kernel_estimates(x, y, 4, kind, REPS, seed=3)
        z = (est.mean() - sm) / (est.std(ddof=1) / np.sqrt(REPS))
        assert abs(z) < Z_MAX, (kind, est.mean(), sm, z)


def test_hyperbolic_m_counts_draws_not_coordinates():
    """hyperbolic_features(x, w) with w: (m, d) has 2m coordinates; Lemma 2's m is the m draws."""
    x, y = th.vectors_at_angle(0.6, 0.6, 1.0, D)
    m = 8
    _, _, z_draws = _z("hyperbolic", x, y, m, th.mse_hyperbolic(x, y, m), seed=5)
    _, _, z_coords = _z("hyperbolic", x, y, m, th.mse_hyperbolic(x, y, 2 * m), seed=5)
    assert abs(z_draws) < Z_MAX
    assert z_coords > 10, z_coords            # reading m as the 2m coordinates is clearly wrong


def test_hyperbolic_beats_positive_with_as_many_coordinates():
    """MSE_hyp(m draws, 2m coordinates) < MSE_pos(2m draws): formula and Monte Carlo (paired z-test)."""
    x, y = th.vectors_at_angle(0.6, 0.6, 1.0, D)
    m = 8
    assert th.mse_hyperbolic(x, y, m) < th.mse_positive(x, y, 2 * m)
    sm = th.softmax_kernel(x, y)
    hyp = (sample_kernel_estimates(x, y, m, "hyperbolic", REPS, seed=11) - sm) ** 2
    pos = (sample_kernel_estimates(x, y, 2 * m, "positive", REPS, seed=12) - sm) ** 2
    diff = pos.mean() - hyp.mean()
    se = np.sqrt(pos.var(ddof=1) / REPS + hyp.var(ddof=1) / REPS)
    assert diff / se > 3, (diff, se)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_orthogonal_features_respect_theorem2(case):
    """Theorem 2: MSE_ort <= MSE_pos - gap. One-sided z-test on the Monte-Carlo MSE of ORFs (m = d)."""
    x, y = th.vectors_at_angle(*CASES[case], D)
    m = D
    reps = REPS // 2                      # each orthogonal projection costs one QR (a Python loop)
    bound = th.mse_orthogonal_bound(x, y, m)
    est = sample_kernel_estimates(x, y, m, "positive", reps, orthogonal=True, seed=100 + case)
    mc, se = mc_mse(est, th.softmax_kernel(x, y))
    assert (mc - bound) / se < Z_MAX, (mc, bound, se)
    # and orthogonal beats iid by at least the gap, statistically (independent samples)
    iid = sample_kernel_estimates(x, y, m, "positive", reps, orthogonal=False, seed=200 + case)
    mc_iid, se_iid = mc_mse(iid, th.softmax_kernel(x, y))
    gap = th.orthogonal_mse_gap_bound(x, y, m)
    assert (mc_iid - mc - gap) / np.hypot(se, se_iid) > -Z_MAX


def test_orthogonal_gap_requires_m_at_most_d():
    x, y = th.vectors_at_angle(1.0, 1.0, 1.0, 4)
    with pytest.raises(ValueError, match="m <= d"):
        th.orthogonal_mse_gap_bound(x, y, 5)


def test_wrong_formula_is_caught():
    """The test has power: MSE_trig without its factor 1/2, or MSE_pos with m -> m+1, gives |z| >> Z_MAX."""
    x, y = th.vectors_at_angle(*CASES[0], D)
    m = 8
    _, _, z = _z("trig", x, y, m, 2 * th.mse_trig(x, y, m), seed=1)
    assert abs(z) > 3 * Z_MAX, z
    _, _, z = _z("hyperbolic", x, y, m, th.mse_positive(x, y, m), seed=2)   # hyp missing its factor
    assert abs(z) > 3 * Z_MAX, z


def test_fig2_ratio_is_lemma2_ratio():
    for ang, l in [(0.5, 1.0), (2.5, 1.0), (1.0, 0.3), (3.0, 1.7)]:
        x, y = th.vectors_at_angle(l, l, ang, 6)
        r = th.mse_trig(x, y, 7) / th.mse_positive(x, y, 7)
        np.testing.assert_allclose(th.fig2_ratio(ang, l), r, rtol=1e-10)
        np.testing.assert_allclose(th.mse_ratio_trig_positive(x, y), r, rtol=1e-10)
    # [P] Fig. 2: the ratio grows with the angle at l = 1 (trig is worst where SM is small)
    ang = np.linspace(0.2, np.pi - 0.01, 50)
    assert np.all(np.diff(th.fig2_ratio(ang, 1.0)) > 0)


def test_positive_kernel_covariance_matches_monte_carlo():
    """Cov of the positive estimates for two keys sharing the same draws (used for attention error)."""
    rng = np.random.default_rng(0)
    x = 0.4 * rng.standard_normal(D)
    ys = 0.4 * rng.standard_normal((2, D))
    m = 4
    cov = th.positive_kernel_covariance(x, ys, m)
    np.testing.assert_allclose(np.diag(cov), th.mse_positive(x, ys, m), rtol=1e-12)
    w = lnp.gaussian_projection(REPS * m, D, seed=7)
    fx = lnp.positive_features(x, w).reshape(REPS, m) * np.sqrt(REPS)
    fy = lnp.positive_features(ys, w).reshape(2, REPS, m) * np.sqrt(REPS)
    est = (fx[None] * fy).sum(-1)                                        # (2, REPS)
    err = est - np.exp(ys @ x)[:, None]
    prod = err[0] * err[1]
    z = (prod.mean() - cov[0, 1]) / (prod.std(ddof=1) / np.sqrt(REPS))
    assert abs(z) < Z_MAX, (prod.mean(), cov[0, 1], z)


def test_first_order_output_mse_matches_performer():
    """The delta-method prediction of performer_attention's output MSE (iid positive features)."""
    rng = np.random.default_rng(1)
    n, d, m, reps = 12, 8, 256, 1500
    # small |q'|, |k'|: the first-order (delta-method) term dominates; at |q'|^2 ~ 1 and m = 64 the
    # heavy-tailed squared errors make both the O(1/m^2) remainder and the sample SE unreliable
    q = 0.4 * rng.standard_normal((3, d))
    k = 0.4 * rng.standard_normal((n, d))
    v = rng.standard_normal((n, 2))
    exact = lnp.softmax_attention(q, k, v)
    pred = th.performer_output_mse_first_order(q, k, v, m)                 # (3,)
    sq = np.empty((reps, 3))
    for r in range(reps):
        w = lnp.gaussian_projection(m, d, seed=1000 + r)
        sq[r] = np.sum((lnp.performer_attention(q, k, v, w) - exact) ** 2, axis=-1)
    z = (sq.mean(0) - pred) / (sq.std(0, ddof=1) / np.sqrt(reps))
    assert np.all(np.abs(z) < Z_MAX), (sq.mean(0), pred, z)


def test_tail_bounds_hold():
    x, y = th.vectors_at_angle(0.7, 0.7, 2.0, D)
    m = 16
    sm = th.softmax_kernel(x, y)
    t = np.array([0.2, 0.4, 0.8])
    trig = np.abs(sample_kernel_estimates(x, y, m, "trig", REPS, seed=21) - sm)
    pos = np.abs(sample_kernel_estimates(x, y, m, "positive", REPS, seed=22) - sm)
    for errs, bound in ((trig, th.hoeffding_tail_trig(x, y, m, t)),
                        (pos, th.chebyshev_tail(th.mse_positive(x, y, m), t))):
        p = (errs[:, None] >= t).mean(0)
        se = np.sqrt(np.maximum(p * (1 - p), 1 / REPS) / REPS)
        assert np.all((p - bound) / se < Z_MAX), (p, bound)


def test_theorem4_scaling():
    m = th.theorem4_features(16, 2.0, 0.1)
    assert th.theorem4_features(16, 2.0, 0.05) > 4 * m          # ~ 1/eps^2 (times a log)
    assert th.theorem4_features(64, 2.0, 0.1) > m               # grows with d at fixed R
    assert th.theorem4_features(16, 3.0, 0.1) > 10 * m          # exp(2 R^2 / sqrt(d)) in 1/delta^2
    delta = 0.1 / np.exp(4.0 / 4.0)                              # l^2 = R^2 / sqrt(d) = 1
    np.testing.assert_allclose(m, 16 / delta ** 2 * np.log(4 * 16 ** 0.75 * 2.0 / delta))


def test_linformer_k_and_costs():
    np.testing.assert_allclose(th.linformer_k(512, 0.5), 5 * np.log(512) / 0.125)
    with pytest.raises(ValueError, match="eps"):
        th.linformer_k(512, 1.5)
    t, mem = th.linformer_savings(512, 128)
    assert t > 1 and mem > 1
    # the model's savings grow with n at fixed k and shrink with k at fixed n, like [L] Table 3
    t2, mem2 = th.linformer_savings(4096, 128)
    t3, mem3 = th.linformer_savings(4096, 512)
    assert t2 > t > 1 and mem2 > mem and t3 < t2 and mem3 < mem2


def test_bad_input_names_argument():
    with pytest.raises(ValueError, match="x and y"):
        th.mse_trig(np.ones(3), np.ones(4), 2)
    with pytest.raises(ValueError, match="m must be"):
        th.mse_positive(np.ones(3), np.ones(3), 0)


@pytest.mark.parametrize("m", [4, 16])
def test_exact_orthogonal_mse_matches_monte_carlo_two_sided(m):
    x, y = th.vectors_at_angle(0.7, 0.6, 1.0, 16)
    sm = float(th.softmax_kernel(x, y))
    mc, se = mc_mse(sample_kernel_estimates(x, y, m, "positive", 20000, orthogonal=True, seed=90 + m), sm)
    exact = th.mse_orthogonal_positive(x, y, m)
    assert abs(mc - exact) < 4.5 * se
    assert exact <= th.mse_orthogonal_bound(x, y, m) < th.mse_positive(x, y, m)


def test_exact_orthogonal_mse_leading_term_is_theorem2_gap():
    # for small |z| the covariance term is -Lambda^2 |z|^4 / (2 (d + 2)) + O(|z|^6): the bound's gap to leading order
    x, y = th.vectors_at_angle(0.02, 0.02, 0.3, 16)
    m = 8
    gap_exact = th.mse_positive(x, y, m) - th.mse_orthogonal_positive(x, y, m)
    assert np.isclose(gap_exact, th.orthogonal_mse_gap_bound(x, y, m), rtol=1e-2)
    with pytest.raises(ValueError, match="m <= d"):
        th.mse_orthogonal_positive(x, y, 17)
