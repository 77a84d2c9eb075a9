"""The two mirrors export the same names and, in float64 on the CPU, compute the same numbers (1e-10)."""
import functools
import inspect

import numpy as np
import pytest
import torch

from linattn_edu import numpy as lnp, torch as lt
from arrays import qkv, T

TOL = 1e-10


def test_same_public_names():
    assert sorted(lnp.__all__) == sorted(lt.__all__)
    for name in lnp.__all__:
        assert hasattr(lnp, name) and hasattr(lt, name), name


@pytest.mark.parametrize("name", sorted(lnp.__all__))
def test_same_arguments(name):
    p_np = list(inspect.signature(getattr(lnp, name)).parameters)
    p_t = list(inspect.signature(getattr(lt, name)).parameters)
    # the torch mirror may add trailing keyword arguments (dtype=, device=), never rename or reorder
    assert p_t[: len(p_np)] == p_np, (name, p_np, p_t)


def _close(a, b):
    """Compare nested outputs (arrays / tuples of arrays) after converting torch to numpy."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y)
        return
    b = b.detach().numpy()
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(1.0, float(np.abs(a).max()))
    np.testing.assert_allclose(b, a, rtol=0, atol=TOL * scale)


def _random_w(rng, m=16, d=8):
    return rng.standard_normal((m, d))


# name -> list of (numpy args builder). Each builder returns (args, kwargs) in NumPy; the torch
# call gets the same values converted. Every public name must appear here (a new function without a
# parity case fails test_every_name_has_a_case).
def _cases(rng):
    c = {}
    shapes = [((), 1), ((), 13), ((2,), 37), ((2, 3), 64)]
    for batch, n in shapes:
        q, k, v = qkv(rng, batch, n=n, d=6, d_v=4, scale=0.7)
        w = _random_w(rng, 11, 6)
        c.setdefault("softmax_attention", []).extend([((q, k, v), {}), ((q, k, v), {"causal": True, "scale": 0.3})])
        c.setdefault("attention_weights", []).extend([((q, k), {}), ((q, k), {"causal": True})])
        for f in ("elu_plus_one", "relu_features", "taylor_features"):
            c.setdefault(f, []).append(((q,), {}))
        for f in ("trig_features", "positive_features", "hyperbolic_features"):
            c.setdefault(f, []).append(((q, w), {}))
        for phi in ("elu_plus_one", "relu_features", "taylor_features"):
            for causal in (False, True):
                c.setdefault("kernel_attention", []).append(((q, k, v, phi), {"causal": causal}))
                c.setdefault("linear_attention", []).append(((q, k, v, phi), {"causal": causal}))
        c.setdefault("recurrent_linear_attention", []).append(((q, k, v, "elu_plus_one"), {}))
        for C in (1, 7, 64):
            c.setdefault("chunked_linear_attention", []).append(((q, k, v, "elu_plus_one"), {"chunk_size": C}))
        for kind in ("positive", "hyperbolic", "trig"):
            for causal in (False, True):
                c.setdefault("performer_attention", []).append(((q, k, v, w), {"kind": kind, "causal": causal}))
        E, F = rng.standard_normal((2, 5, n)) / np.sqrt(5)
        c.setdefault("linformer_attention", []).append(((q, k, v, E, F), {}))
        log_decay = -rng.uniform(0.0, 0.5, size=(*batch, n))
        beta = rng.uniform(0.0, 1.0, size=(*batch, n))
        kn = k / np.linalg.norm(k, axis=-1, keepdims=True)
        c.setdefault("decay_mask", []).append(((log_decay,), {}))
        for C in (None, 5):
            c.setdefault("decayed_linear_attention", []).append(((q, k, v, log_decay), {"chunk_size": C}))
            c.setdefault("delta_rule_attention", []).append(((q, kn, v, beta), {"chunk_size": C}))
            c.setdefault("gated_delta_rule_attention", []).append(((q, kn, v, 2 * beta, log_decay), {"chunk_size": C}))
    # state hand-off arguments
    q, k, v = qkv(rng, (2,), n=9, d=6, d_v=4)
    S0, z0 = rng.random((2, 6, 4)), rng.random((2, 6)) + 0.5
    c["recurrent_linear_attention"].append(((q, k, v, "elu_plus_one"), {"state": (S0, z0)}))
    c["chunked_linear_attention"].append(((q, k, v, "elu_plus_one"), {"chunk_size": 4, "state": (S0, z0)}))
    return c


def _to_torch(x):
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    if isinstance(x, tuple):
        return tuple(_to_torch(y) for y in x)
    return x


def test_every_name_has_a_case(rng):
    cases = _cases(rng)
    random_draws = {"gaussian_projection"}   # checked statistically in test_random_features.py
    missing = set(lnp.__all__) - set(cases) - random_draws
    assert not missing, f"no parity case for {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(set(lnp.__all__) - {"gaussian_projection"}))
def test_torch_float64_equals_numpy(name, rng):
    cases = _cases(rng)[name]
    for args, kwargs in cases:
        ref = getattr(lnp, name)(*args, **kwargs)
        got = getattr(lt, name)(*_to_torch(args), **{k: _to_torch(v) for k, v in kwargs.items()})
        _close(ref, got)


def test_gaussian_projection_shapes_and_dtype():
    for orthogonal in (False, True):
        assert lnp.gaussian_projection(10, 4, orthogonal=orthogonal, seed=0).shape == (10, 4)
        w = lt.gaussian_projection(10, 4, orthogonal=orthogonal, seed=0, dtype=torch.float32)
        assert w.shape == (10, 4) and w.dtype == torch.float32
        # same seed, same draw within a mirror (reproducible)
        np.testing.assert_array_equal(lnp.gaussian_projection(10, 4, orthogonal, seed=3),
                                      lnp.gaussian_projection(10, 4, orthogonal, seed=3))
        assert torch.equal(lt.gaussian_projection(10, 4, orthogonal, seed=3),
                           lt.gaussian_projection(10, 4, orthogonal, seed=3))
