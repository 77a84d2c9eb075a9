"""Random features: unbiased for exp(x.y) (tolerance from the sample's own standard error),
orthogonal rows really orthogonal, row norms chi(d)-distributed."""
import numpy as np
import pytest
import torch

from linattn_edu import numpy as lnp, torch as lt

Z = 4.5        # |mean - exp(x.y)| < Z standard errors: fails with probability ~7e-6 per check if unbiased


def _estimates(feature, x, y, m, draws, orthogonal, mirror):
    est = np.empty(draws)
    for r in range(draws):
        if mirror is lnp:
            w = lnp.gaussian_projection(m, x.size, orthogonal=orthogonal, seed=r)
            est[r] = feature(x, w) @ feature(y, w)
        else:
            w = lt.gaussian_projection(m, x.size, orthogonal=orthogonal, seed=r)
            est[r] = float(feature(torch.from_numpy(x), w) @ feature(torch.from_numpy(y), w))
    return est


@pytest.mark.parametrize("mirror", [lnp, lt], ids=["numpy", "torch"])
@pytest.mark.parametrize("orthogonal", [False, True])
@pytest.mark.parametrize("name", ["trig_features", "positive_features", "hyperbolic_features"])
def test_unbiased_for_softmax_kernel(name, orthogonal, mirror):
    rng = np.random.default_rng(7)
    d = 4
    x, y = rng.standard_normal((2, d)) * 0.5
    est = _estimates(getattr(mirror, name), x, y, m=8, draws=3000, orthogonal=orthogonal, mirror=mirror)
    target = np.exp(x @ y)
    se = est.std(ddof=1) / np.sqrt(est.size)
    assert abs(est.mean() - target) < Z * se, (est.mean(), target, se)


def test_a_biased_estimator_would_fail_the_same_check():
    """The tolerance is tight enough to catch a 10% bias (so the unbiasedness tests can fail)."""
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((2, 4)) * 0.5
    est = 1.1 * _estimates(lnp.positive_features, x, y, 8, 3000, False, lnp)
    se = est.std(ddof=1) / np.sqrt(est.size)
    assert abs(est.mean() - np.exp(x @ y)) > Z * se


@pytest.mark.parametrize("mirror", [lnp, lt], ids=["numpy", "torch"])
def test_orthogonal_blocks_are_orthogonal(mirror):
    d, m = 6, 15                    # three blocks: 6 + 6 + 3 rows
    w = mirror.gaussian_projection(m, d, orthogonal=True, seed=0)
    w = np.asarray(w)
    for start in range(0, m, d):
        block = w[start:start + d]
        gram = block @ block.T
        off = gram - np.diag(np.diag(gram))
        assert np.abs(off).max() < 1e-10 * np.abs(gram).max()
    # different blocks are independent, not orthogonal to each other
    assert abs(w[0] @ w[d]) > 1e-6


def _ks_two_sample(a, b):
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return np.max(np.abs(np.searchsorted(a, grid, side="right") / a.size - np.searchsorted(b, grid, side="right") / b.size))


@pytest.mark.parametrize("mirror", [lnp, lt], ids=["numpy", "torch"])
def test_orthogonal_row_norms_follow_chi_d(mirror):
    """Two-sample Kolmogorov-Smirnov test against norms of iid Gaussian vectors (chi(d) samples), alpha = 1e-3."""
    d = 5
    norms = np.concatenate([np.linalg.norm(np.asarray(mirror.gaussian_projection(d, d, orthogonal=True, seed=s)), axis=1)
                            for s in range(400)])                       # 2000 rows
    ref = np.linalg.norm(np.random.default_rng(123).standard_normal((4000, d)), axis=1)
    n1, n2 = norms.size, ref.size
    crit = 1.95 * np.sqrt((n1 + n2) / (n1 * n2))                        # c(alpha=0.001) = 1.95
    assert _ks_two_sample(norms, ref) < crit
    # and the test can fail: unit-norm rows (no chi resampling) are rejected
    assert _ks_two_sample(np.ones(n1), ref) > crit
    # each coordinate is marginally N(0, 1): E w_ij = 0, E w_ij^2 = 1 (4.5 standard errors)
    coords = np.concatenate([np.asarray(mirror.gaussian_projection(d, d, orthogonal=True, seed=s)).ravel()
                             for s in range(400)])
    assert abs(coords.mean()) < Z * coords.std() / np.sqrt(coords.size)
    sq = coords ** 2
    assert abs(sq.mean() - 1) < Z * sq.std() / np.sqrt(sq.size)


def test_trig_features_can_be_negative_positive_features_cannot():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 4)) * 1.5
    signs_trig, signs_pos = [], []
    for s in range(200):
        w = lnp.gaussian_projection(2, 4, seed=s)
        signs_trig.append(lnp.trig_features(x, w) @ lnp.trig_features(y, w))
        signs_pos.append(lnp.positive_features(x, w) @ lnp.positive_features(y, w))
    assert min(signs_trig) < 0
    assert min(signs_pos) > 0
