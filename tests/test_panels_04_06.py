"""Panels of notebooks 04-06: compute() shapes and numbers against the library and linattn_edu.theory."""
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from linattn_edu import numpy as lnp, theory  # noqa: E402
from linattn_edu.panels import nb04_estimators, nb05_attention_error, nb06_linformer  # noqa: E402

PANELS = (nb04_estimators, nb05_attention_error, nb06_linformer)


@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p.__name__.rsplit(".", 1)[-1])
def test_defaults_compute_and_draw(panel):
    res = panel.compute(**panel.DEFAULTS)
    fig = panel.draw(res)
    assert fig.axes and all(ax.get_xlabel() for ax in fig.axes)
    plt.close(fig)


def test_nb04_estimates_match_library_and_lemma2():
    res = nb04_estimators.compute(**{**nb04_estimators.DEFAULTS, "norm_x": 0.6, "norm_y": 0.6, "reps": 4000})
    for kind in nb04_estimators.KINDS:
        assert res["estimates"][kind].shape == (4000,)
        z = (res["mc_mse"][kind] - res["formula_mse"][kind]) / res["mc_se"][kind]
        assert abs(z) < 4.5, (kind, z)
    # one estimate equals the library's feature maps on that projection
    x, y = theory.vectors_at_angle(0.6, 0.6, 1.0, 16)
    w = nb04_estimators.draw_projections(16, 16, 3, seed=4)          # (3, 16, 16)
    est = nb04_estimators.sample_kernel_estimates(x, y, 16, "hyperbolic", 3, seed=4)
    direct = [lnp.hyperbolic_features(x, w[r]) @ lnp.hyperbolic_features(y, w[r]) for r in range(3)]
    np.testing.assert_allclose(est, direct, rtol=1e-12)


def test_nb04_orthogonal_projections_are_orthogonal():
    w = nb04_estimators.draw_projections(5, 8, 4, orthogonal=True, seed=0)     # (4, 5, 8)
    for r in range(4):
        g = w[r] @ w[r].T
        np.testing.assert_allclose(g - np.diag(np.diag(g)), 0, atol=1e-10)
    with pytest.raises(ValueError, match="kind"):
        nb04_estimators.sample_kernel_estimates(np.ones(2), np.ones(2), 2, "cosine", 2)


def test_nb05_errors_and_bounds():
    res = nb05_attention_error.compute(**nb05_attention_error.DEFAULTS)
    reps = nb05_attention_error.DEFAULTS["reps"]
    assert res["kernel_max_err"]["trig"].shape == (reps,) and res["out_rel_err"].shape == (reps,)
    # Hoeffding + union bound at failure probability 1/2: at least half of the projections lie below it
    assert np.mean(res["kernel_max_err"]["trig"] <= res["hoeffding_union"]) >= 0.5
    np.testing.assert_allclose(theory.theorem4_features(16, 2.0, res["theorem4_eps"]), 64, rtol=1e-8)
    # errors grow with R, and causal mode changes the output error
    big = nb05_attention_error.compute(**{**nb05_attention_error.DEFAULTS, "R": 3.0})
    assert np.median(big["kernel_max_err"]["trig"]) > 3 * np.median(res["kernel_max_err"]["trig"])
    causal = nb05_attention_error.compute(**{**nb05_attention_error.DEFAULTS, "causal": True})
    assert not np.allclose(causal["out_rel_err"], res["out_rel_err"])


def test_nb05_sphere_rows_have_norm_R():
    x = nb05_attention_error.sphere_rows(10, 7, 2.5, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 2.5)


def test_nb06_structures_and_errors():
    few = nb06_linformer.compute(n=64, k=8, structure="few tokens", d=16)
    s = few["singular_values"]
    assert s.shape == (64,) and s[8] / s[0] < 1e-12                   # rank <= 8
    i8 = list(few["ks"]).index(8)
    assert few["errors"]["best rank k (SVD)"][i8] < 1e-10              # rank 8 is exact
    for res in (few, nb06_linformer.compute(n=64, k=16, structure="local", d=16)):
        e = res["errors"]
        assert np.all(e["best rank k (SVD)"] <= e["JL: P R^T R"] + 1e-12)   # Eckart-Young
        assert e["Linformer (mean pooling)"][-1] < 1e-10                    # k = n pooling is the identity
    with pytest.raises(ValueError, match="structure"):
        nb06_linformer.make_inputs(8, 4, "zigzag")


def test_nb06_linformer_error_matches_library():
    q, k = nb06_linformer.make_inputs(32, 8, "random", seed=0)
    v = np.random.default_rng(1).standard_normal((32, 8))
    E = nb06_linformer.pooling_matrix(32, 32)
    np.testing.assert_allclose(E, np.eye(32))
    np.testing.assert_allclose(lnp.linformer_attention(q, k, v, E, E), lnp.softmax_attention(q, k, v), atol=1e-12)


def test_nb05_fixed_axes_hold_every_corner():
    """nb05's histograms sit on axes fixed over the controls' whole range (so moves blit): no error of any
    corner of m, d, R, causal may fall outside them (it would silently leave the histogram)."""
    ctl = nb05_attention_error.controls()
    lo, hi = (10.0 ** e for e in nb05_attention_error.KERNEL_DECADES)
    out_lo, out_hi = (10.0 ** e for e in nb05_attention_error.OUT_DECADES)
    for m in (ctl["m"].min, ctl["m"].max):
        for d in (ctl["d"].min, ctl["d"].max):
            for R in (ctl["R"].min, ctl["R"].max):
                for causal in (False, True):
                    r = nb05_attention_error.compute(**{**nb05_attention_error.DEFAULTS, "m": m, "d": d, "R": R,
                                                        "causal": causal})
                    kernel = np.concatenate([*r["kernel_max_err"].values(), [r["hoeffding_union"], r["theorem4_eps"]]])
                    assert lo < kernel.min() and kernel.max() < hi, (m, d, R, causal, kernel.min(), kernel.max())
                    out = r["out_rel_err"]
                    assert out_lo < out.min() and out.max() < out_hi, (m, d, R, causal, out.min(), out.max())
