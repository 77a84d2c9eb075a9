"""Issue #12, "Bugs (measured)": each test here failed on the code before its fix (numbers in the commit log).

1. float16 chunked form: the numerator and the product with S in float32 (no inf at 16k tokens).
2. exclusive prefix sums by a shifted cumsum (a large later term is never added and subtracted back).
3. causality of non-finite values: a NaN / inf at token t reaches outputs t, t+1, ... only (explicit sweep).
4. n = 0: empty outputs, state unchanged.
5. chunk_size > n: clamped to n (no padding to chunk_size).
6. validation: numpy integer / float scalars, eps, w with 0 rows, d = 0, seeds, causal, phi's dtype.
"""
import functools
import time

import numpy as np
import pytest
import torch

from linattn_edu import numpy as lnp, torch as lt

MIRRORS = [lnp, lt]
IDS = ["numpy", "torch"]


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# ---------------------------------------------------------------- 1. float16 / bfloat16 at 16k tokens
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_16bit_chunked_is_finite_and_close_at_16k_tokens(dtype):
    """d = 64, elu+1, v ~ N(1, 1), n = 16384: before the fix float16 gave inf from token ~750 on
    (phi(Q) S + A V formed in float16, S cast to float16)."""
    g = np.random.default_rng(12)
    n, d = 16384, 64
    q, k = (_t(g.standard_normal((n, d))).to(dtype) for _ in range(2))
    v = _t(g.standard_normal((n, d)) + 1.0).to(dtype)
    out, (S, z) = lt.chunked_linear_attention(q, k, v, "elu_plus_one", chunk_size=64)
    ref, _ = lt.chunked_linear_attention(q.double(), k.double(), v.double(), "elu_plus_one", chunk_size=64)
    assert out.dtype == dtype and S.dtype == torch.float32 and z.dtype == torch.float32
    n_inf = int((~torch.isfinite(out)).sum())
    assert n_inf == 0, f"{n_inf} non-finite outputs in {dtype}"
    rel = ((out.double() - ref).norm() / ref.norm()).item()
    # one rounding of the output to 16 bits: 2^-11 (float16) or 2^-8 (bfloat16) relative, times a few
    assert rel < (2e-3 if dtype == torch.float16 else 1.5e-2), rel


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("form", ["recurrent", "cumsum", "decayed", "delta"])
def test_16bit_other_causal_forms_are_finite(form, dtype):
    """The README's sentence holds for the other forms: sums (and, for float16, everything) in float32."""
    g = np.random.default_rng(13)
    n, d = 2048, 16
    q, k = (_t(g.standard_normal((n, d))).to(dtype) for _ in range(2))
    v = _t(g.standard_normal((n, d)) + 1.0).to(dtype)
    if form == "recurrent":
        out, _ = lt.recurrent_linear_attention(q, k, v, "elu_plus_one")
        ref, _ = lt.recurrent_linear_attention(q.double(), k.double(), v.double(), "elu_plus_one")
    elif form == "cumsum":
        out = lt.linear_attention(q, k, v, "elu_plus_one", causal=True)
        ref = lt.linear_attention(q.double(), k.double(), v.double(), "elu_plus_one", causal=True)
    elif form == "decayed":     # unnormalised, no decay: the state grows like n (2048 * 16 > 65504 in float16)
        ld = torch.zeros(n, dtype=dtype)
        out, _ = lt.decayed_linear_attention(q.abs(), k.abs(), v, ld, chunk_size=64)
        ref, _ = lt.decayed_linear_attention(q.abs().double(), k.abs().double(), v.double(), ld.double(), chunk_size=64)
    else:
        kn = k / k.float().norm(dim=-1, keepdim=True).to(dtype)
        beta = torch.full((n,), 0.5, dtype=dtype)
        out, _ = lt.delta_rule_attention(q, kn, v, beta, chunk_size=64)
        ref, _ = lt.delta_rule_attention(q.double(), kn.double(), v.double(), beta.double(), chunk_size=64)
    ok = torch.isfinite(ref)
    assert bool(ok.all())
    assert bool(torch.isfinite(out).all())
    rel = ((out.double() - ref).norm() / ref.norm()).item()
    assert rel < (2e-3 if dtype == torch.float16 else 1.5e-2), rel


# ---------------------------------------------------------------- 2. exclusive prefix sums
@pytest.mark.parametrize("which", ["v", "k"])
def test_large_later_token_does_not_round_earlier_rows(which):
    """float32, n = 128, C = 64, token 127 huge: rows 64..126 do not depend on it. Before the fix
    (exclusive sum as cumsum(H) - H) they had 1.2e-2 relative error (v[127] = 1e7); the recurrence 1e-7."""
    g = np.random.default_rng(2)
    q, k, v = g.standard_normal((3, 128, 8))
    if which == "v":
        v[127] = 1e7
    else:
        k[127] = 20.0                               # elu+1: phi(k_127) ~ 21, but |phi(k) v^T| ~ 1e2 only;
        v[127] = 1e6                                # both S and z get one large later term
    ref, _ = lnp.recurrent_linear_attention(q, k, v, "elu_plus_one")
    out, _ = lt.chunked_linear_attention(*(_t(a).float() for a in (q, k, v)), "elu_plus_one", chunk_size=64)
    rows = slice(64, 127)
    rel = np.abs(out[rows].double().numpy() - ref[rows]).max() / np.abs(ref[rows]).max()
    assert rel < 1e-5, rel


# ---------------------------------------------------------------- 3. causality, every causal form
N_CAUSAL, D, DV = 23, 4, 3
CHUNKS = (4, 5, 7, 40)                   # none divides 23; 40 > n


def _causal_forms(mod):
    """name -> f(q, k, v, g) -> out, for every causal form. g: a gate in (0, 1) per token (and feature)."""
    def perf(q, k, v, g):
        w = mod.gaussian_projection(8, D, seed=0)
        w = w.astype(q.dtype) if mod is lnp else w.to(q.dtype)
        return mod.performer_attention(q, k, v, w, causal=True, eps=0.0)
    log = (lambda x: np.log(x)) if mod is lnp else torch.log
    forms = {
        "linear_attention": lambda q, k, v, g: mod.linear_attention(q, k, v, "elu_plus_one", causal=True),
        "recurrent": lambda q, k, v, g: mod.recurrent_linear_attention(q, k, v, "elu_plus_one")[0],
        "kernel_attention": lambda q, k, v, g: mod.kernel_attention(q, k, v, "relu_features", causal=True),
        "softmax_attention": lambda q, k, v, g: mod.softmax_attention(q, k, v, causal=True),
        "performer": perf,
        "decayed/recurrent": lambda q, k, v, g: mod.decayed_linear_attention(q, k, v, log(g[..., 0]))[0],
        "decayed-gla/recurrent": lambda q, k, v, g: mod.decayed_linear_attention(q, k, v, log(g))[0],
        "delta/recurrent": lambda q, k, v, g: mod.delta_rule_attention(q, k, v, g[..., 0])[0],
    }
    for C in CHUNKS:
        forms[f"chunked/C={C}"] = functools.partial(
            lambda q, k, v, g, C: mod.chunked_linear_attention(q, k, v, "elu_plus_one", chunk_size=C)[0], C=C)
        forms[f"decayed/C={C}"] = functools.partial(
            lambda q, k, v, g, C: mod.decayed_linear_attention(q, k, v, log(g[..., 0]), chunk_size=C)[0], C=C)
        forms[f"decayed-gla/C={C}"] = functools.partial(
            lambda q, k, v, g, C: mod.decayed_linear_attention(q, k, v, log(g), chunk_size=C)[0], C=C)
        forms[f"delta/C={C}"] = functools.partial(
            lambda q, k, v, g, C: mod.delta_rule_attention(q, k, v, g[..., 0], chunk_size=C)[0], C=C)
    return forms


def _same(a, b):
    """Equal, NaN == NaN (exact: a later token may not change an earlier output by even one rounding)."""
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


FORM_NAMES = list(_causal_forms(lnp))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # NaN / inf inputs: NumPy warns, on purpose
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mod", MIRRORS, ids=IDS)
@pytest.mark.parametrize("form", FORM_NAMES)
def test_later_tokens_never_change_earlier_outputs(form, mod, dtype):
    """For t in a sweep and every way of changing tokens t+1, ..., n-1 (new random values, NaN, +inf,
    -inf, 1e30 in q, k or v; new gates), outputs 0..t are unchanged. Exact, except performer: its key
    stabiliser is one constant over the whole sequence, which cancels exactly in exact arithmetic, so
    there a later token may change earlier outputs by rounding (documented in performer.py)."""
    f = _causal_forms(mod)[form]
    g = np.random.default_rng(3)
    base = [g.standard_normal((2, N_CAUSAL, D)), g.standard_normal((2, N_CAUSAL, D)),
            g.standard_normal((2, N_CAUSAL, DV)), g.uniform(0.5, 1.0, (2, N_CAUSAL, D))]
    if form.startswith("delta"):
        base[1] /= np.linalg.norm(base[1], axis=-1, keepdims=True)
    conv = (lambda a: a.astype(dtype)) if mod is lnp else (lambda a: _t(a.astype(dtype)))
    back = (lambda o: np.asarray(o, dtype=np.float64)) if mod is lnp else (lambda o: o.double().numpy())
    ref = back(f(*(conv(a) for a in base)))
    assert np.isfinite(ref).all()
    checked = 0
    for t in (0, 3, 4, 5, 9, 15, 21):
        for which in (0, 1, 2, 3):
            kinds = ("noise", "huge") if which == 3 else ("noise", "nan", "inf", "-inf", "huge")
            for kind in kinds:
                arrs = [a.copy() for a in base]
                tail = arrs[which][:, t + 1:]
                if which == 3:          # gates stay valid (in (0, 1]): a new draw, or a near-reset
                    tail[...] = g.uniform(0.01, 1.0, tail.shape) if kind == "noise" else 1e-30
                else:
                    tail[...] = {"noise": g.standard_normal(tail.shape) * 3, "nan": np.nan, "inf": np.inf,
                                 "-inf": -np.inf, "huge": 1e30}[kind]
                try:
                    out = back(f(*(conv(a) for a in arrs)))
                except ValueError:      # e.g. huge values rejected by validation: not a leak
                    continue
                checked += 1
                got, want = out[:, :t + 1], ref[:, :t + 1]
                if form == "performer":
                    tol = 1e-10 if dtype == "float64" else 1e-4
                    ok = np.isfinite(got).all() and np.allclose(got, want, rtol=tol, atol=tol)
                else:
                    ok = _same(got, want)
                assert ok, (f"{form}: changing token(s) {t + 1}.. of {'qkvg'[which]} to {kind} changed outputs "
                            f"0..{t} (max diff {np.nanmax(np.abs(got - want)) if np.isfinite(got).all() else 'non-finite'})")
    assert checked > 20


# ---------------------------------------------------------------- 4. n = 0
def _empty_calls(mod):
    z = (lambda *s: np.zeros(s)) if mod is lnp else (lambda *s: torch.zeros(*s, dtype=torch.float64))
    q, v = z(2, 0, 4), z(2, 0, 3)
    w = mod.gaussian_projection(8, 4, seed=0)
    return q, v, w, {
        "softmax_attention": lambda: mod.softmax_attention(q, q, v),
        "softmax_attention causal": lambda: mod.softmax_attention(q, q, v, causal=True),
        "attention_weights": lambda: mod.attention_weights(q, q),
        "performer_attention": lambda: mod.performer_attention(q, q, v, w),
        "performer_attention causal": lambda: mod.performer_attention(q, q, v, w, causal=True),
        "kernel_attention": lambda: mod.kernel_attention(q, q, v, "taylor_features", causal=True),
        "linear_attention": lambda: mod.linear_attention(q, q, v, "taylor_features", causal=True),
        "taylor_features": lambda: mod.taylor_features(q),
    }


@pytest.mark.parametrize("mod", MIRRORS, ids=IDS)
def test_empty_sequence_gives_empty_outputs(mod):
    q, v, w, calls = _empty_calls(mod)
    want = {"attention_weights": (2, 0, 0), "taylor_features": (2, 0, 1 + 4 + 16)}
    for name, call in calls.items():
        out = call()
        assert tuple(out.shape) == want.get(name, (2, 0, 3)), name


@pytest.mark.parametrize("mod", MIRRORS, ids=IDS)
@pytest.mark.parametrize("chunk", [None, 5])
def test_empty_sequence_keeps_the_state(mod, chunk):
    g = np.random.default_rng(4)
    conv = (lambda a: a) if mod is lnp else _t
    q, v = conv(np.zeros((2, 0, 4))), conv(np.zeros((2, 0, 3)))
    S0 = conv(g.standard_normal((2, 4, 3)))
    out, S = mod.delta_rule_attention(q, q, v, conv(np.zeros((2, 0))), chunk_size=chunk, state=S0)
    assert tuple(out.shape) == (2, 0, 3) and np.array_equal(np.asarray(S), np.asarray(S0))
    out, S = mod.decayed_linear_attention(q, q, v, conv(np.zeros((2, 0, 4))), chunk_size=chunk, state=S0)
    assert tuple(out.shape) == (2, 0, 3) and np.array_equal(np.asarray(S), np.asarray(S0))
    state = (S0, conv(g.uniform(1, 2, (2, 4))))
    f = (lambda *a, **kw: mod.recurrent_linear_attention(*a, **kw)) if chunk is None else \
        (lambda *a, **kw: mod.chunked_linear_attention(*a, chunk_size=chunk, **kw))
    out, (S, zz) = f(q, q, v, "elu_plus_one", state=state)
    assert tuple(out.shape) == (2, 0, 3)
    assert np.array_equal(np.asarray(S), np.asarray(state[0])) and np.array_equal(np.asarray(zz), np.asarray(state[1]))


# ---------------------------------------------------------------- 5. chunk_size > n
def test_chunk_size_larger_than_n_is_clamped():
    """torch decayed, per-feature gates, n = 37, chunk_size = 1024: before the fix 3.9 s and +196 MB
    (padding to 1024 tokens and a (d_k, 1024, 1024) mask); with C = 37 about a millisecond. The check
    is on the result and on the work done (a (1024, 1024) intermediate would show in the profile), not on time."""
    g = np.random.default_rng(5)
    q, k = (_t(g.standard_normal((37, 64))) for _ in range(2))
    v = _t(g.standard_normal((37, 16)))
    ld = _t(-g.uniform(0, 0.1, (37, 64)))
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        big, S_big = lt.decayed_linear_attention(q, k, v, ld, chunk_size=1024)
    peak = max(abs(e.cpu_memory_usage) for e in prof.key_averages())
    small, S_small = lt.decayed_linear_attention(q, k, v, ld, chunk_size=37)
    torch.testing.assert_close(big, small, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(S_big, S_small, rtol=1e-12, atol=1e-12)
    assert peak < 64 * 37 * 37 * 8 * 8, f"an intermediate of {peak / 1e6:.1f} MB for n = 37"
    for f in (lambda C: lt.chunked_linear_attention(q, k, v, "elu_plus_one", chunk_size=C)[0],
              lambda C: lt.delta_rule_attention(q, k / k.norm(dim=-1, keepdim=True), v,
                                                torch.full((37,), 0.5, dtype=torch.float64), chunk_size=C)[0]):
        torch.testing.assert_close(f(10**6), f(37), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- 6. validation
@pytest.mark.parametrize("mod", MIRRORS, ids=IDS)
class TestValidation:
    def _x(self, mod, *shape):
        a = np.random.default_rng(6).standard_normal(shape)
        return _t(a) if mod is lt else a

    def test_numpy_integer_chunk_sizes_and_float_scales_accepted(self, mod):
        x = self._x(mod, 10, 4)
        ref = mod.chunked_linear_attention(x, x, x, "elu_plus_one", chunk_size=3)[0]
        for C in (np.int16(3), np.uint8(3), np.int64(3)):
            np.testing.assert_allclose(np.asarray(mod.chunked_linear_attention(x, x, x, "elu_plus_one", chunk_size=C)[0]),
                                       np.asarray(ref))
        ref = mod.softmax_attention(x, x, x, scale=0.5)
        np.testing.assert_allclose(np.asarray(mod.softmax_attention(x, x, x, scale=np.float32(0.5))), np.asarray(ref))
        with pytest.raises(TypeError, match=r"chunk_size must be an integer"):
            mod.chunked_linear_attention(x, x, x, "elu_plus_one", chunk_size=True)
        with pytest.raises(TypeError, match=r"chunk_size must be an integer"):
            mod.chunked_linear_attention(x, x, x, "elu_plus_one", chunk_size=np.float64(3.0))

    def test_eps_must_be_a_finite_number(self, mod):
        x = self._x(mod, 10, 4)
        w = self._x(mod, 8, 4)
        for eps, err in ((None, TypeError), ("0", TypeError), (float("inf"), ValueError), (float("nan"), ValueError),
                         (-1e-3, ValueError)):
            with pytest.raises(err, match=r"eps must be a finite number >= 0"):
                mod.performer_attention(x, x, x, w, eps=eps)
        mod.performer_attention(x, x, x, w, eps=np.float32(1e-3))

    def test_w_with_no_rows(self, mod):
        x = self._x(mod, 10, 4)
        with pytest.raises(ValueError, match=r"w must have at least one row"):
            mod.performer_attention(x, x, x, self._x(mod, 0, 4))
        with pytest.raises(ValueError, match=r"w must have at least one row"):
            mod.positive_features(x, self._x(mod, 0, 4))

    def test_zero_width_rejected(self, mod):
        x, v = self._x(mod, 10, 0), self._x(mod, 10, 3)
        for call in (lambda: mod.softmax_attention(x, x, v),
                     lambda: mod.chunked_linear_attention(x, x, v, "elu_plus_one"),
                     lambda: mod.linear_attention(x, x, v, "elu_plus_one"),
                     lambda: mod.decayed_linear_attention(x, x, v, self._x(mod, 10))):
            with pytest.raises(ValueError, match=r"d >= 1"):
                call()

    def test_seed_rule(self, mod):
        for seed in (-1, 1.5, "3", True):
            with pytest.raises((TypeError, ValueError), match=r"seed must be None or an integer in \[0, 2\*\*63\)"):
                mod.gaussian_projection(4, 3, seed=seed)
        a, b = mod.gaussian_projection(4, 3, seed=np.int32(7)), mod.gaussian_projection(4, 3, seed=7)
        assert np.array_equal(np.asarray(a), np.asarray(b))

    def test_causal_must_be_bool(self, mod):
        x = self._x(mod, 10, 4)
        w = self._x(mod, 8, 4)
        for call in (lambda c: mod.softmax_attention(x, x, x, causal=c),
                     lambda c: mod.attention_weights(x, x, causal=c),
                     lambda c: mod.kernel_attention(x, x, x, "elu_plus_one", causal=c),
                     lambda c: mod.linear_attention(x, x, x, "elu_plus_one", causal=c),
                     lambda c: mod.performer_attention(x, x, x, w, causal=c)):
            with pytest.raises(TypeError, match=r"causal must be True or False \(got 'no'\)"):
                call("no")
            call(np.bool_(True))

    def test_phi_with_wrong_dtype(self, mod):
        x = self._x(mod, 10, 4)
        x32 = x.float() if mod is lt else x.astype(np.float32)
        bad = (lambda t: t.double() + 1.0) if mod is lt else (lambda t: t.astype(np.int64))
        with pytest.raises(TypeError, match=r"phi must return"):
            mod.chunked_linear_attention(x32, x32, x32, bad)
