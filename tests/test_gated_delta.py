"""The gated delta rule: recurrence == chunkwise WY/UT form with decay, both mirrors, gradients, reductions, errors.

References are independent of the code under test: a dense loop with the transition matrix written out
(a_t (I - beta_t k_t k_t^T)), the library's delta rule (a = 1) and decayed form (orthogonal keys / beta -> 0).
Tolerances (named): EXACT = 1e-10 for float64 forms that agree to rounding (observed ~1e-15);
F32 = 1e-4 for the float32 torch form against the float64 recurrence (unit keys, |v| ~ 1, n <= 64).
"""
import numpy as np
import pytest
import torch

from linattn_edu import numpy as lnp, torch as lt
from linattn_edu.numpy.gated_delta import gated_wy_representation

EXACT = 1e-10
F32 = 1e-4


def _inputs(seed=0, batch=(2, 3), n=37, d_k=5, d_v=4, beta_max=2.0, decay_max=1.0):
    r = np.random.default_rng(seed)
    q, k = r.normal(size=(2, *batch, n, d_k))
    k = k / np.linalg.norm(k, axis=-1, keepdims=True)
    v = r.normal(size=(*batch, n, d_v))
    beta = r.uniform(0.0, beta_max, size=(*batch, n))
    log_decay = -r.uniform(0.0, decay_max, size=(*batch, n))
    return q, k, v, beta, log_decay


def _t(*xs):
    return [torch.from_numpy(np.ascontiguousarray(x)) for x in xs]


def _dense_reference(q, k, v, beta, log_decay, S):
    """Unbatched: S_t = a_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T with the d_k x d_k matrix built."""
    outs = []
    for t in range(k.shape[0]):
        A = np.exp(log_decay[t]) * (np.eye(k.shape[1]) - beta[t] * np.outer(k[t], k[t]))
        S = A @ S + beta[t] * np.outer(k[t], v[t])
        outs.append(S.T @ q[t])
    return np.array(outs), S


def test_recurrence_is_the_gated_delta_rule():
    q, k, v, beta, ld = _inputs(batch=(), n=23)
    S0 = np.random.default_rng(1).normal(size=(5, 4))
    want_o, want_S = _dense_reference(q, k, v, beta, ld, S0)
    out, S = lnp.gated_delta_rule_attention(q, k, v, beta, ld, state=S0)
    assert np.abs(out - want_o).max() < EXACT and np.abs(S - want_S).max() < EXACT


@pytest.mark.parametrize("C", [1, 2, 5, 7, 16, 37, 64])       # 2, 5, 7, 16 do not divide n = 37; 64 > n
def test_chunked_equals_recurrent_numpy(C):
    q, k, v, beta, ld = _inputs()
    S0 = np.random.default_rng(4).normal(size=(2, 3, 5, 4))
    o_r, S_r = lnp.gated_delta_rule_attention(q, k, v, beta, ld, state=S0)
    o_c, S_c = lnp.gated_delta_rule_attention(q, k, v, beta, ld, chunk_size=C, state=S0)
    assert np.abs(o_c - o_r).max() < EXACT and np.abs(S_c - S_r).max() < EXACT


@pytest.mark.parametrize("C", [1, 5, 8, 16, 64])
def test_torch_float64_equals_numpy_recurrence(C):
    """Both torch forms == the NumPy recurrence, outputs and final state, at n % C != 0 (padding)."""
    q, k, v, beta, ld = _inputs(seed=5)
    S0 = np.random.default_rng(6).normal(size=(2, 3, 5, 4))
    o_r, S_r = lnp.gated_delta_rule_attention(q, k, v, beta, ld, state=S0)
    for chunk in (None, C):
        o_t, S_t = lt.gated_delta_rule_attention(*_t(q, k, v, beta, ld), chunk_size=chunk, state=torch.from_numpy(S0))
        assert float((o_t - torch.from_numpy(o_r)).abs().max()) < EXACT
        assert float((S_t - torch.from_numpy(S_r)).abs().max()) < EXACT


def test_padding_final_state_with_strong_decay():
    """n % C != 0 with a strong decay: a padded step with a != 1 would shrink the final state by that factor."""
    q, k, v, beta, _ = _inputs(seed=7, batch=(2,), n=13)
    ld = np.full((2, 13), -0.7)
    _, S_r = lnp.gated_delta_rule_attention(q, k, v, beta, ld)
    for C in (4, 5, 8):
        _, S_t = lt.gated_delta_rule_attention(*_t(q, k, v, beta, ld), chunk_size=C)
        assert float((S_t - torch.from_numpy(S_r)).abs().max()) < EXACT * max(1.0, float(np.abs(S_r).max()))


def test_state_hand_off():
    """Two calls with the state carried == one call (generation / context parallelism), both mirrors."""
    q, k, v, beta, ld = _inputs(seed=8, batch=(2,), n=40)
    o, S = lnp.gated_delta_rule_attention(q, k, v, beta, ld)
    for split, C in ((17, None), (17, 6), (24, 8)):
        a = lnp.gated_delta_rule_attention(q[:, :split], k[:, :split], v[:, :split], beta[:, :split], ld[:, :split], chunk_size=C)
        b = lnp.gated_delta_rule_attention(q[:, split:], k[:, split:], v[:, split:], beta[:, split:], ld[:, split:],
                                           chunk_size=C, state=a[1])
        assert np.abs(np.concatenate([a[0], b[0]], axis=1) - o).max() < EXACT and np.abs(b[1] - S).max() < EXACT
        ta = lt.gated_delta_rule_attention(*_t(q[:, :split], k[:, :split], v[:, :split], beta[:, :split], ld[:, :split]), chunk_size=C)
        tb = lt.gated_delta_rule_attention(*_t(q[:, split:], k[:, split:], v[:, split:], beta[:, split:], ld[:, split:]),
                                           chunk_size=C, state=ta[1])
        assert float((torch.cat([ta[0], tb[0]], dim=1) - torch.from_numpy(o)).abs().max()) < EXACT
        assert float((tb[1] - torch.from_numpy(S)).abs().max()) < EXACT


def test_no_decay_is_the_delta_rule():
    q, k, v, beta, _ = _inputs(seed=9)
    zero = np.zeros(beta.shape)
    for C in (None, 6):
        o_g, S_g = lnp.gated_delta_rule_attention(q, k, v, beta, zero, chunk_size=C)
        o_d, S_d = lnp.delta_rule_attention(q, k, v, beta)
        assert np.abs(o_g - o_d).max() < EXACT and np.abs(S_g - S_d).max() < EXACT


def test_orthogonal_keys_give_the_decayed_form():
    """Keys orthogonal to every earlier key (n <= d_k, S_0 = 0): the erase term is 0, so the layer is
    decayed linear attention with values beta_t v_t, exactly."""
    r = np.random.default_rng(10)
    d_k, n = 8, 8
    k = np.linalg.qr(r.normal(size=(d_k, d_k)))[0].T[:n]                 # orthonormal rows
    q, v = r.normal(size=(n, d_k)), r.normal(size=(n, 3))
    beta, ld = r.uniform(0.1, 1.9, n), -r.uniform(0, 1, n)
    for C in (None, 3):
        o_g, S_g = lnp.gated_delta_rule_attention(q, k, v, beta, ld, chunk_size=C)
        o_l, S_l = lnp.decayed_linear_attention(q, k, beta[:, None] * v, ld)
        assert np.abs(o_g - o_l).max() < EXACT and np.abs(S_g - S_l).max() < EXACT


def test_small_beta_limit_is_the_decayed_form():
    """gated_delta(v / beta, beta) -> decayed(v) as beta -> 0, with an error O(beta) (one decade per decade)."""
    q, k, v, _, ld = _inputs(seed=11, batch=(), n=30)
    o_l, _ = lnp.decayed_linear_attention(q, k, v, ld)
    errs = []
    for eps in (1e-3, 1e-4):
        o_g, _ = lnp.gated_delta_rule_attention(q, k, v / eps, np.full(30, eps), ld, chunk_size=7)
        errs.append(np.abs(o_g - o_l).max())
    assert errs[1] < 1e-2 * np.abs(o_l).max()
    assert 5 < errs[0] / errs[1] < 20                                      # linear in beta


def test_gated_wy_product_of_transitions():
    """The part of S_next linear in S, gamma_C I - (diag(gamma_C / gamma) K)^T W, is the chunk's product of
    transitions prod_i a_i (I - beta_i k_i k_i^T), built here as d_k x d_k matrices."""
    r = np.random.default_rng(12)
    C, d = 6, 5
    k = r.normal(size=(C, d)); k /= np.linalg.norm(k, axis=1, keepdims=True)
    v, beta, ld = r.normal(size=(C, 3)), r.uniform(0, 2, C), -r.uniform(0, 1, C)
    b = np.cumsum(ld)
    W, U = gated_wy_representation(k, v, beta, b)
    P = np.eye(d)
    for i in range(C):
        P = np.exp(ld[i]) * (np.eye(d) - beta[i] * np.outer(k[i], k[i])) @ P
    # the state after the chunk from S: gamma_C S + (diag(gamma_C / gamma) K)^T (U - W S); its linear part in S:
    lin = np.exp(b[-1]) * np.eye(d) - (k * np.exp(b[-1] - b)[:, None]).T @ W
    assert np.abs(lin - P).max() < EXACT
    _, S = lnp.gated_delta_rule_attention(k, k, v, beta, ld)
    assert np.abs(S - (k * np.exp(b[-1] - b)[:, None]).T @ U).max() < EXACT     # from S = 0


def test_gradcheck_both_forms():
    q, k, v, beta, ld = _inputs(seed=13, batch=(2,), n=9, d_k=3, d_v=2)
    S0 = np.random.default_rng(14).normal(size=(2, 3, 2))
    args = [x.clone().requires_grad_() for x in _t(q, k, v, beta, ld, S0)]
    for C in (None, 4):
        f = lambda q, k, v, b, g, s: lt.gated_delta_rule_attention(q, k, v, b, g, chunk_size=C, state=s)
        assert torch.autograd.gradcheck(f, args)


def test_float32_and_bfloat16():
    q, k, v, beta, ld = _inputs(seed=15, batch=(2,), n=64)
    o_r, S_r = lnp.gated_delta_rule_attention(q, k, v, beta, ld)
    x32 = [x.float() for x in _t(q, k, v, beta, ld)]
    o, S = lt.gated_delta_rule_attention(*x32, chunk_size=16)
    assert o.dtype == torch.float32 and float((o.double() - torch.from_numpy(o_r)).abs().max()) < F32
    o16, S16 = lt.gated_delta_rule_attention(*[x.bfloat16() for x in x32], chunk_size=16)
    assert o16.dtype == torch.bfloat16 and S16.dtype == torch.float32
    assert torch.isfinite(o16).all()


def test_long_sequence_strong_decay_stays_finite():
    """n = 3000 with log a = -1: exp of a global cumulative sum would underflow (B < -745); ours never forms it."""
    q, k, v, beta, _ = _inputs(seed=16, batch=(), n=3000, d_k=4, d_v=2)
    ld = np.full(3000, -1.0)
    o_r, _ = lnp.gated_delta_rule_attention(q, k, v, beta, ld)
    o_c, _ = lnp.gated_delta_rule_attention(q, k, v, beta, ld, chunk_size=64)
    o_t, _ = lt.gated_delta_rule_attention(*_t(q, k, v, beta, ld), chunk_size=64)
    assert np.isfinite(o_c).all() and np.abs(o_c - o_r).max() < EXACT
    assert float((o_t - torch.from_numpy(o_r)).abs().max()) < EXACT


def test_empty_sequence():
    q, k, v, beta, ld = _inputs(batch=(2,), n=0)
    for C in (None, 4):
        o, S = lnp.gated_delta_rule_attention(q, k, v, beta, ld, chunk_size=C)
        assert o.shape == (2, 0, 4) and np.all(S == 0)
        o, S = lt.gated_delta_rule_attention(*_t(q, k, v, beta, ld), chunk_size=C)
        assert tuple(o.shape) == (2, 0, 4) and bool((S == 0).all())


@pytest.mark.parametrize("mirror", ["numpy", "torch"])
def test_bad_inputs(mirror):
    lib = lnp if mirror == "numpy" else lt
    q, k, v, beta, ld = _inputs(batch=(2,), n=6)
    conv = (lambda *xs: xs) if mirror == "numpy" else _t
    q, k, v, beta, ld = conv(q, k, v, beta, ld)
    f = lib.gated_delta_rule_attention
    with pytest.raises(ValueError, match="beta must have shape"):
        f(q, k, v, beta[..., :5], ld)
    with pytest.raises(ValueError, match="log_decay must have shape"):
        f(q, k, v, beta, ld[..., None] * np.ones(5) if mirror == "numpy" else ld[..., None].expand(2, 6, 5))
    with pytest.raises(ValueError, match="log_decay must be finite and <= 0"):
        f(q, k, v, beta, -ld)
    bad_beta = beta * 1.0
    bad_beta[0, 2] = float("nan")
    with pytest.raises(ValueError, match="beta must be finite"):
        f(q, k, v, bad_beta, ld)
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        f(q, k, v, beta, ld, chunk_size=0)
    with pytest.raises(ValueError, match="state must be S with shape"):
        f(q, k, v, beta, ld, state=(np.zeros((2, 4, 5)) if mirror == "numpy" else torch.zeros(2, 4, 5, dtype=torch.float64)))
    with pytest.raises(ValueError, match="q and k must share the last dimension"):
        f(q[..., :3], k, v, beta, ld)
