"""Panels of notebooks 07-09: compute() shapes and numbers, checked against the library or closed forms."""
import math

import numpy as np
import pytest

from linattn_edu.panels import nb07_decay, nb08_memory, nb09_mqar_task

EXACT = 1e-10


def test_nb07_mask_is_geometric_and_matches_recurrence():
    r = nb07_decay.compute(**nb07_decay.DEFAULTS)
    n, a = r["n"], r["a"]
    assert r["L"].shape == (n, n) and abs(a - 2 ** (-1 / r["half_life"])) < EXACT
    i, j = np.tril_indices(n)
    assert np.abs(r["L"][i, j] - a ** (i - j)).max() < EXACT
    assert r["max_diff_quadratic_vs_recurrent"] < EXACT
    assert abs(r["effective_memory"] - (1 - a ** n) / (1 - a)) < 1e-9
    # horizon: the first distance whose weight drops below 1 %
    assert a ** r["horizon"] <= 0.01 < a ** (r["horizon"] - 1)


@pytest.mark.parametrize("half_life", [1.0, 4.0, 32.0])
def test_nb07_horizon_grows_with_half_life(half_life):
    r = nb07_decay.compute(half_life=half_life, n=16)
    assert r["horizon"] == math.ceil(half_life * math.log2(100) - 1e-9)


def test_nb08_orthogonal_keys_exact_and_curves_match_library():
    r = nb08_memory.compute(beta=1.0, n_pairs=16, key_corr=0.0, d=16)
    assert r["sweep"].shape == r["additive_curve"].shape == r["delta_curve"].shape == (32,)
    assert r["additive_error"] < EXACT and r["delta_error"] < EXACT
    assert r["mean_abs_key_overlap"] < EXACT
    # one point of the curve recomputed by hand: S = sum_i k_i v_i^T
    k, v = nb08_memory.make_pairs(32, 16, 0.3, seed=0)
    S = k[:20].T @ v[:20]
    err = np.mean(np.linalg.norm(k[:20] @ S - v[:20], axis=1) / np.linalg.norm(v[:20], axis=1))
    r = nb08_memory.compute(beta=0.5, n_pairs=4, key_corr=0.3, d=16)
    assert abs(r["additive_curve"][19] - err) < EXACT


def test_nb08_delta_beats_additive_for_correlated_keys():
    r = nb08_memory.compute(beta=1.0, n_pairs=8, key_corr=0.6)
    assert r["delta_error"] < r["additive_error"]
    assert r["additive_curve"][-1] > 2 * r["delta_curve"][-1]


def test_nb09_task_layout():
    r = nb09_mqar_task.compute(num_kv_pairs=8, seq_len=64, seed=0)
    role = r["role"]
    assert role.shape == (64,) and (role[:16:2] == 1).all() and (role[1:16:2] == 2).all()
    assert (role == 3).sum() == 8 and (role[16:] != 1).all()
    assert r["distances"].shape == (64 * 8,) and r["distances"].min() >= 1
    assert abs(r["query_fraction"] - 8 / 64) < EXACT


@pytest.mark.parametrize("panel", [nb07_decay, nb08_memory, nb09_mqar_task])
def test_draw_returns_figure(panel):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = panel.draw(panel.compute(**panel.DEFAULTS))
    assert fig.axes
    plt.close(fig)


@pytest.mark.parametrize("beta, key_corr", [(1.0, 0.0), (0.5, 0.3), (1.7, 0.8)])
def test_nb08_batched_curves_equal_one_prefix_at_a_time(beta, key_corr):
    """recall_curves (one batched library call, writes past N switched off) == recall_errors on each prefix."""
    k, v = nb08_memory.make_pairs(32, 16, key_corr, seed=1)
    add, delta = nb08_memory.recall_curves(k, v, beta)
    slow = np.array([nb08_memory.recall_errors(k[:N], v[:N], beta) for N in range(1, 33)])     # (32, 2)
    np.testing.assert_allclose(add, slow[:, 0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(delta, slow[:, 1], rtol=1e-10, atol=1e-12)
