"""The compute() of the panels of notebooks 01-03 against the library, and draw() returning a Figure."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from linattn_edu import costs
from linattn_edu import numpy as lnp
from linattn_edu.panels import nb01_kernel_smoother, nb02_costs, nb03_chunks, nb03_state, panel_modules

PANELS = (nb01_kernel_smoother, nb02_costs, nb03_state, nb03_chunks)


@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p.__name__.rsplit(".", 1)[-1])
def test_defaults_match_compute_and_draw_returns_figure(panel):
    assert panel.__name__.rsplit(".", 1)[-1] in panel_modules()
    fig = panel.draw(panel.compute(**panel.DEFAULTS))
    assert isinstance(fig, Figure) and len(fig.axes) >= 2
    plt.close(fig)


@pytest.mark.parametrize("fmap", nb01_kernel_smoother.FEATURE_MAPS)
def test_nb01_weights(fmap):
    r = nb01_kernel_smoother.compute(feature_map=fmap, temperature=1.5, n=10, row=99, d=3)
    q, k = nb01_kernel_smoother.make_qk(10, 3, seed=0)
    np.testing.assert_allclose(r["A"], lnp.attention_weights(q, k, scale=1 / 1.5), rtol=1e-12)
    assert r["W"].shape == (10, 10) and r["row"] == 9                  # row clamped to n - 1
    sums = r["W"].sum(axis=1)
    # a weighted average; relu can zero every feature of a query: that row has no mass, and is 0
    no_mass = np.all(lnp.relu_features(q / np.sqrt(1.5)) == 0, axis=1) if fmap == "relu_features" else False
    np.testing.assert_allclose(sums, np.where(no_mass, 0.0, 1.0), rtol=1e-12)
    assert r["empty_rows"] == np.sum(no_mass)
    assert (r["W"] >= 0).all()
    # the weights reproduce the attention output: W V == kernel_attention(q', k', V)
    v = np.random.default_rng(1).standard_normal((10, 2))
    phi = nb01_kernel_smoother.phi_for(fmap, 3, 64, 0)
    s = 1.5 ** -0.5
    np.testing.assert_allclose(r["W"] @ v, lnp.kernel_attention(q * s, k * s, v, phi), rtol=1e-10, atol=1e-12)
    assert np.all((r["tv"] >= 0) & (r["tv"] <= 1))


def test_nb01_taylor_beats_elu_at_low_temperature_spread():
    # the Taylor map is exp to 2nd order, so at small q.k/tau it is close to softmax; elu+1 is not exp
    tay = nb01_kernel_smoother.compute(feature_map="taylor_features", temperature=8.0, n=16)
    elu = nb01_kernel_smoother.compute(feature_map="elu_plus_one", temperature=8.0, n=16)
    assert tay["tv"].mean() < 0.02 < elu["tv"].mean()


def test_nb01_bad_input():
    with pytest.raises(ValueError, match="feature_map"):
        nb01_kernel_smoother.compute(feature_map="cosine")
    with pytest.raises(ValueError, match="temperature"):
        nb01_kernel_smoother.compute(temperature=0.0)


@pytest.mark.parametrize("features", ["positive_features", None])
def test_nb02_costs_are_the_cost_model(features):
    r = nb02_costs.compute(n=300, d=32, m=48, d_v=16, features=features)
    assert r["flops"]["softmax"] == costs.quadratic_attention_cost(300, 32, d_v=16).flops
    lin = costs.linear_attention_cost(300, 48, 16, features=features, d=32)
    assert r["memory"]["linear"] == lin.memory and r["flops"]["linear"] == lin.flops
    if features:                                                        # phi's own cost is in the bars
        assert lin.memory > costs.linear_attention_cost(300, 48, 16).memory
    assert r["crossover_softmax"] == costs.crossover_length(32, 48, 16, features=features)
    for key in ("flops", "memory"):
        x = r["crossover_softmax"]._asdict()[key]
        i = np.searchsorted(r["grid"], x)
        c = r["curves"][key]
        # the curves cross at n* (FLOPs and memory): softmax cheaper left of it, linear cheaper right of it
        assert c["softmax"][i - 1] < c["linear"][i - 1], key
        assert c["softmax"][i] > c["linear"][i], key
    with pytest.raises(ValueError, match="measure"):
        nb02_costs.compute(measure="time")


def test_nb03_state_is_the_recurrent_state():
    r = nb03_state.compute(t=5, n=9, d=3, d_v=2)
    q, k, v = nb03_state.make_qkv(9, 3, 2, seed=0)
    out, (S, z) = lnp.recurrent_linear_attention(q[:5], k[:5], v[:5], "elu_plus_one")
    np.testing.assert_allclose(r["S"], S, rtol=1e-12)
    np.testing.assert_allclose(r["z"], z, rtol=1e-12)
    np.testing.assert_allclose(r["out"], out[-1], rtol=1e-12)
    assert np.all(r["weights"][5:] == 0)                               # future tokens get no weight
    np.testing.assert_allclose(r["weights"].sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(r["weights"] @ v, out[-1], rtol=1e-12)  # out_t = sum_j a_tj v_j
    assert r["max_diff_vs_parallel"] < 1e-12
    assert nb03_state.compute(t=0, n=4)["t"] == 1 and nb03_state.compute(t=9, n=4)["t"] == 4


def test_nb03_chunks_blocks_and_costs():
    r = nb03_chunks.compute(chunk_size=3, n=8, m=4, d_v=2)
    B = r["blocks"]
    assert B.shape == (8, 8)
    assert np.all(B[np.triu_indices(8, 1)] == nb03_chunks.FUTURE)
    # intra-chunk pairs: lower triangles of the diagonal blocks 0-2, 3-5, 6-7 (3*(3+1)/2*2 + 3 = 15)
    assert (B == nb03_chunks.INTRA).sum() == 15 and B[5, 3] == nb03_chunks.INTRA and B[6, 5] == nb03_chunks.INTER
    assert (B != nb03_chunks.FUTURE).sum() == 8 * 9 // 2
    assert r["flops"][2] == costs.chunked_cost(8, 4, 2, 3).flops
    assert list(r["steps"]) == [costs.chunked_cost(8, 4, 2, C).steps for C in range(1, 9)]
    assert r["max_diff_vs_parallel"] < 1e-12
    one = nb03_chunks.compute(chunk_size=1, n=8)["blocks"]
    assert (one == nb03_chunks.INTRA).sum() == 8                       # C = 1: only the diagonal is intra
    full = nb03_chunks.compute(chunk_size=8, n=8)["blocks"]
    assert not (full == nb03_chunks.INTER).any()                       # C = n: all intra (quadratic form)
