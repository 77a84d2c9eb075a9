"""The delta rule: recurrence == chunkwise WY/UT form, both mirrors, gradients, algebraic facts.

Tolerances (named): EXACT = 1e-10 for float64 forms that agree to rounding (observed ~1e-14).
"""
import numpy as np
import pytest
import torch

from linattn_edu import numpy as lnp, torch as lt
from linattn_edu.numpy.delta_rule import wy_representation

EXACT = 1e-10


def _inputs(seed=0, batch=(2, 3), n=37, d_k=5, d_v=4, beta_max=1.5):
    r = np.random.default_rng(seed)
    q, k = r.normal(size=(2, *batch, n, d_k))
    k = k / np.linalg.norm(k, axis=-1, keepdims=True)
    v = r.normal(size=(*batch, n, d_v))
    beta = r.uniform(0.0, beta_max, size=(*batch, n))
    return q, k, v, beta


def _t(*xs):
    return [torch.from_numpy(x) for x in xs]


def test_one_step_is_the_delta_rule():
    """S_1 = S_0 + beta k (v - S_0^T k)^T, and with ||k|| = 1, beta = 1 the memory then recalls v exactly."""
    r = np.random.default_rng(2)
    S0 = r.normal(size=(5, 4))
    q, k, v, beta = _inputs(batch=(), n=1)
    _, S1 = lnp.delta_rule_attention(q, k, v, beta, state=S0)
    np.testing.assert_allclose(S1, S0 + beta[0] * np.outer(k[0], v[0] - S0.T @ k[0]), atol=EXACT)
    _, S1 = lnp.delta_rule_attention(q, k, v, np.ones(1), state=S0)
    np.testing.assert_allclose(S1.T @ k[0], v[0], atol=EXACT)


def test_householder_form():
    """The same step as (I - beta k k^T) S + beta k v^T."""
    r = np.random.default_rng(3)
    S0 = r.normal(size=(5, 4))
    q, k, v, beta = _inputs(batch=(), n=1)
    _, S1 = lnp.delta_rule_attention(q, k, v, beta, state=S0)
    kk = np.outer(k[0], k[0])
    np.testing.assert_allclose(S1, (np.eye(5) - beta[0] * kk) @ S0 + beta[0] * np.outer(k[0], v[0]), atol=EXACT)


def test_transition_eigenvalues():
    """I - beta k k^T: eigenvalue 1 (d - 1 times) and 1 - beta ||k||^2 (not 1 - beta ||k||), for ||k|| != 1."""
    r = np.random.default_rng(4)
    k, beta = 2.5 * r.normal(size=6), 0.3
    ev = np.sort(np.linalg.eigvalsh(np.eye(6) - beta * np.outer(k, k)))
    np.testing.assert_allclose(ev[1:], np.ones(5), atol=EXACT)
    assert abs(ev[0] - (1 - beta * k @ k)) < EXACT
    assert abs(ev[0] - (1 - beta * np.linalg.norm(k))) > 1.0             # the printed version is wrong here


def test_wy_representation():
    """prod_i (I - beta_i k_i k_i^T) = I - K^T W, and the UT transform T = (I + tril(diag(b) K K^T, -1))^-1 diag(b)."""
    q, k, v, beta = _inputs(batch=(), n=6)
    W, U = wy_representation(k, v, beta)
    P = np.eye(5)
    for i in range(6):
        P = (np.eye(5) - beta[i] * np.outer(k[i], k[i])) @ P            # later transitions on the left
    np.testing.assert_allclose(np.eye(5) - k.T @ W, P, atol=EXACT)
    T = np.linalg.inv(np.eye(6) + np.tril(beta[:, None] * (k @ k.T), -1)) @ np.diag(beta)
    np.testing.assert_allclose(W, T @ k, atol=EXACT)
    np.testing.assert_allclose(U, T @ v, atol=EXACT)


@pytest.mark.parametrize("chunk_size", [1, 8, 10, 37, 64])         # 8, 10 do not divide n = 37
def test_chunked_equals_recurrent_numpy(chunk_size):
    q, k, v, beta = _inputs()
    out_r, S_r = lnp.delta_rule_attention(q, k, v, beta)
    out_c, S_c = lnp.delta_rule_attention(q, k, v, beta, chunk_size=chunk_size)
    np.testing.assert_allclose(out_c, out_r, atol=EXACT, rtol=0)
    np.testing.assert_allclose(S_c, S_r, atol=EXACT, rtol=0)


def test_unnormalised_keys_and_beta_up_to_two():
    """The chunked form is exact algebra, not an approximation: it also holds for non-unit keys."""
    q, k, v, beta = _inputs(beta_max=2.0)
    k = k * 0.9
    out_r, _ = lnp.delta_rule_attention(q, k, v, beta)
    out_c, _ = lnp.delta_rule_attention(q, k, v, beta, chunk_size=7)
    np.testing.assert_allclose(out_c, out_r, atol=EXACT)


@pytest.mark.parametrize("chunk_size", [None, 6])
def test_split_and_carry_state(chunk_size):
    q, k, v, beta = _inputs()
    full, S_full = lnp.delta_rule_attention(q, k, v, beta, chunk_size=chunk_size)
    a, S_a = lnp.delta_rule_attention(q[..., :20, :], k[..., :20, :], v[..., :20, :], beta[..., :20], chunk_size=chunk_size)
    b, S_b = lnp.delta_rule_attention(q[..., 20:, :], k[..., 20:, :], v[..., 20:, :], beta[..., 20:],
                                      chunk_size=chunk_size, state=S_a)
    np.testing.assert_allclose(np.concatenate([a, b], axis=-2), full, atol=EXACT)
    np.testing.assert_allclose(S_b, S_full, atol=EXACT)


@pytest.mark.parametrize("chunk_size", [None, 1, 8, 37, 50])
def test_torch_equals_numpy(chunk_size):
    q, k, v, beta = _inputs()
    S0 = np.random.default_rng(6).normal(size=(2, 3, 5, 4))
    out, S = lnp.delta_rule_attention(q, k, v, beta, state=S0)
    out_t, S_t = lt.delta_rule_attention(*_t(q, k, v, beta), chunk_size=chunk_size, state=torch.from_numpy(S0))
    np.testing.assert_allclose(out_t.numpy(), out, atol=EXACT)
    np.testing.assert_allclose(S_t.numpy(), S, atol=EXACT)


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_torch_gradients(chunk_size):
    q, k, v, beta = _inputs(batch=(1,), n=7, d_k=3, d_v=2)
    args = [x.requires_grad_() for x in _t(q, k, v, beta)]
    assert torch.autograd.gradcheck(lambda *a: lt.delta_rule_attention(*a, chunk_size=chunk_size), args)


def test_torch_low_precision():
    q, k, v, beta = _inputs()
    out64, _ = lt.delta_rule_attention(*_t(q, k, v, beta), chunk_size=8)
    out, S = lt.delta_rule_attention(*(x.bfloat16() for x in _t(q, k, v, beta)), chunk_size=8)
    assert out.dtype == torch.bfloat16 and S.dtype == torch.float32
    assert (out.double() - out64).abs().max() < 0.05 * out64.abs().max()


@pytest.mark.parametrize("mirror, conv", [(lnp, np.asarray), (lt, torch.from_numpy)])
def test_validation_messages(mirror, conv):
    q, k, v, beta = (conv(x) for x in _inputs())
    with pytest.raises(ValueError, match=r"beta must have shape \(\.\.\., n\)"):
        mirror.delta_rule_attention(q, k, v, beta[..., None] * (k[..., :1] * 0 + 1))
    with pytest.raises(ValueError, match="beta must be finite"):
        mirror.delta_rule_attention(q, k, v, beta * float("nan"))
    with pytest.raises(ValueError, match="state must be S with shape"):
        mirror.delta_rule_attention(q, k, v, beta, state=v)
