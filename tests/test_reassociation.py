"""(phi(Q) phi(K)^T) V = phi(Q) (phi(K)^T V), for every feature map, causal and not; softmax basics."""
import functools

import numpy as np
import pytest
import torch

from linattn_edu import numpy as lnp, torch as lt
from arrays import qkv, T


def _maps(mod, w):
    return {
        "elu_plus_one": mod.elu_plus_one,
        "relu_features": mod.relu_features,
        "taylor_features": mod.taylor_features,
        "trig_features": functools.partial(mod.trig_features, w=w),
        "positive_features": functools.partial(mod.positive_features, w=w),
        "hyperbolic_features": functools.partial(mod.hyperbolic_features, w=w),
    }


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("name", ["elu_plus_one", "relu_features", "taylor_features",
                                  "trig_features", "positive_features", "hyperbolic_features"])
def test_kernel_equals_linear(name, causal, rng):
    q, k, v = qkv(rng, (2,), n=29, d=6, d_v=3, scale=0.5)
    w = rng.standard_normal((32, 6))
    a = lnp.kernel_attention(q, k, v, _maps(lnp, w)[name], causal=causal)
    b = lnp.linear_attention(q, k, v, _maps(lnp, w)[name], causal=causal)
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-10)
    qt, kt, vt, wt = T(q, k, v, w)
    at = lt.kernel_attention(qt, kt, vt, _maps(lt, wt)[name], causal=causal)
    bt = lt.linear_attention(qt, kt, vt, _maps(lt, wt)[name], causal=causal)
    torch.testing.assert_close(bt, at, rtol=1e-9, atol=1e-10)


def test_non_causal_linear_attention_equals_softmax_for_the_exact_kernel(rng):
    """With phi = exp features of a finite 'vocabulary' the two are the same function: sanity that
    kernel_attention normalises like softmax: sim = exp(q.k/sqrt(d)) reproduces softmax_attention."""
    q, k, v = qkv(rng, (), n=11, d=4, d_v=3)
    sim = np.exp(q @ k.T / 2.0)
    out = (sim @ v) / sim.sum(-1, keepdims=True)
    np.testing.assert_allclose(lnp.softmax_attention(q, k, v), out, rtol=1e-12)


def test_taylor_identity_exact(rng):
    x, y = rng.standard_normal((2, 50, 7))
    lhs = np.sum(lnp.taylor_features(x) * lnp.taylor_features(y), axis=-1)
    s = np.sum(x * y, axis=-1)
    np.testing.assert_allclose(lhs, 1 + s + s ** 2 / 2, rtol=1e-12, atol=1e-12)
    assert lnp.taylor_features(x).shape[-1] == 1 + 7 + 49
    xt, yt = T(x, y)
    torch.testing.assert_close((lt.taylor_features(xt) * lt.taylor_features(yt)).sum(-1),
                               torch.from_numpy(1 + s + s ** 2 / 2), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mod", [lnp, lt])
def test_softmax_rows_sum_to_one_and_causal_is_lower_triangular(mod, rng):
    q, k, _ = qkv(rng, (2, 2), n=17, d=5, scale=3.0)
    if mod is lt:
        q, k = T(q, k)
    for causal in (False, True):
        a = mod.attention_weights(q, k, causal=causal)
        a = a.numpy() if mod is lt else a
        np.testing.assert_allclose(a.sum(-1), 1.0, rtol=1e-12)
        assert (a >= 0).all()
        if causal:
            assert np.all(np.triu(a, 1) == 0.0)
            np.testing.assert_allclose(a[..., 0, 0], 1.0)   # the first token sees only itself


def test_softmax_is_stable_for_large_scores(rng):
    q, k, v = qkv(rng, (), n=8, d=4, scale=100.0)    # scores ~ 1e4: exp would overflow without the max shift
    out = lnp.softmax_attention(q, k, v)
    assert np.isfinite(out).all()
    out16 = lt.softmax_attention(*[t.half() for t in T(q, k, v)])
    assert torch.isfinite(out16).all()


def test_relu_rows_with_no_mass_give_zero_not_nan(rng):
    q, k, v = qkv(rng, (), n=6, d=3)
    q[2] = -np.abs(q[2])            # relu(q_2) = 0: no similarity to any key
    for causal in (False, True):
        for f in (lnp.kernel_attention, lnp.linear_attention):
            out = f(q, k, v, "relu_features", causal=causal)
            assert np.isfinite(out).all() and np.all(out[2] == 0)
        qt, kt, vt = T(q, k, v)
        qt.requires_grad_(True)
        out = lt.linear_attention(qt, kt, vt, "relu_features", causal=causal)
        out.sum().backward()
        assert torch.isfinite(out).all() and torch.isfinite(qt.grad).all()


def test_performer_equals_kernel_attention_with_unstabilised_features(rng):
    """The max-subtraction stabiliser cancels exactly: performer_attention == kernel_attention with the
    plain positive / hyperbolic features of q d^-1/4 and k d^-1/4 (float64, moderate norms)."""
    q, k, v = qkv(rng, (2,), n=21, d=8, d_v=3, scale=1.5)
    w = lnp.gaussian_projection(64, 8, orthogonal=True, seed=1)
    c = 8 ** -0.25
    for kind, f in (("positive", lnp.positive_features), ("hyperbolic", lnp.hyperbolic_features),
                    ("trig", lnp.trig_features)):
        for causal in (False, True):
            ref = lnp.kernel_attention(q * c, k * c, v, functools.partial(f, w=w), causal=causal)
            got = lnp.performer_attention(q, k, v, w, kind=kind, causal=causal)
            np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-9, err_msg=f"{kind} causal={causal}")


def test_performer_stabiliser_keeps_large_norms_finite(rng):
    q, k, v = qkv(rng, (2,), n=32, d=16, scale=20.0)     # exp(w.q) would overflow float32 unstabilised
    w = lnp.gaussian_projection(64, 16, seed=0)
    with np.errstate(over="ignore"):
        unstab = np.exp(((q * 0.5) @ w.T).astype(np.float32))
    assert not np.isfinite(unstab).all()
    for kind in ("positive", "hyperbolic"):
        out = lt.performer_attention(*T(q.astype(np.float32), k.astype(np.float32), v.astype(np.float32)),
                                     torch.from_numpy(w).float(), kind=kind)
        assert torch.isfinite(out).all()


def test_performer_approaches_softmax_with_many_features(rng):
    q, k, v = qkv(rng, (), n=64, d=8, scale=0.5)
    ref = lnp.softmax_attention(q, k, v)
    errs = []
    for m in (16, 256, 4096):
        w = lnp.gaussian_projection(m, 8, orthogonal=True, seed=m)
        errs.append(np.linalg.norm(lnp.performer_attention(q, k, v, w) - ref) / np.linalg.norm(ref))
    assert errs[0] > errs[1] > errs[2], errs
    assert errs[2] < 0.03, errs


def test_linformer_with_identity_projection_is_softmax(rng):
    q, k, v = qkv(rng, (2,), n=12, d=4)
    eye = np.eye(12)
    np.testing.assert_allclose(lnp.linformer_attention(q, k, v, eye, eye), lnp.softmax_attention(q, k, v), rtol=1e-12)
    # a projection that averages pairs of positions == softmax over the averaged keys/values
    P = np.kron(np.eye(6), np.ones((1, 2)) / 2)          # (6, 12)
    np.testing.assert_allclose(lnp.linformer_attention(q, k, v, P, P),
                               lnp.softmax_attention(q, P @ k, P @ v), rtol=1e-12)


def test_elu_plus_one_keeps_tiny_features_in_float32():
    """elu(x) + 1 written as (exp(x) - 1) + 1 rounds to 0 for x < -17 in float32; ours keeps exp(x)."""
    x = np.array([-30.0, -20.0, -1.0, 0.0, 2.0])
    ref = lnp.elu_plus_one(x)
    np.testing.assert_allclose(ref, [np.exp(-30), np.exp(-20), np.exp(-1), 1.0, 3.0], rtol=1e-15)
    got = lt.elu_plus_one(torch.from_numpy(x).float()).double().numpy()
    assert (got > 0).all()
    np.testing.assert_allclose(got, ref, rtol=1e-6)
