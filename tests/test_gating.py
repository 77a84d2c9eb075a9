"""Decayed (gated) linear attention: recurrence == chunkwise == quadratic (L ∘ Q K^T) V, in both mirrors.

Tolerances (named): float64 forms agree to rounding, EXACT = 1e-10 (observed ~1e-14 at these sizes).
"""
import numpy as np
import pytest
import torch

from linattn_edu import numpy as lnp, torch as lt

EXACT = 1e-10


def _inputs(seed=0, batch=(2, 3), n=37, d_k=5, d_v=4, per_feature=False):
    r = np.random.default_rng(seed)
    q, k = r.normal(size=(2, *batch, n, d_k))
    v = r.normal(size=(*batch, n, d_v))
    shape = (*batch, n, d_k) if per_feature else (*batch, n)
    log_decay = -r.uniform(0.0, 1.0, size=shape)
    return q, k, v, log_decay


def _t(*xs):
    return [torch.from_numpy(x) for x in xs]


@pytest.mark.parametrize("per_feature", [False, True])
@pytest.mark.parametrize("chunk_size", [1, 8, 10, 37, 64])          # 8 and 10 do not divide n = 37
def test_chunked_equals_recurrent_numpy(per_feature, chunk_size):
    q, k, v, ld = _inputs(per_feature=per_feature)
    out_r, S_r = lnp.decayed_linear_attention(q, k, v, ld)
    out_c, S_c = lnp.decayed_linear_attention(q, k, v, ld, chunk_size=chunk_size)
    np.testing.assert_allclose(out_c, out_r, atol=EXACT, rtol=0)
    np.testing.assert_allclose(S_c, S_r, atol=EXACT, rtol=0)


def test_recurrence_by_hand():
    """Two steps written out: S_2 = a_2 (k_1 v_1^T) + k_2 v_2^T, o_2 = S_2^T q_2."""
    q, k, v, ld = _inputs(batch=(), n=2)
    a = np.exp(ld)
    S2 = a[1] * np.outer(k[0], v[0]) + np.outer(k[1], v[1])
    out, S = lnp.decayed_linear_attention(q, k, v, ld)
    np.testing.assert_allclose(S, S2, atol=EXACT)
    np.testing.assert_allclose(out[1], S2.T @ q[1], atol=EXACT)


def test_quadratic_form_state_space_duality():
    """(L ∘ Q K^T) V with L_ij = prod_{j<t<=i} a_t equals the recurrence (Dao & Gu 2024)."""
    q, k, v, ld = _inputs()
    L = lnp.decay_mask(ld)
    a = np.exp(ld[0, 0])
    i, j = 9, 4
    assert abs(L[0, 0, i, j] - np.prod(a[j + 1:i + 1])) < EXACT       # the product definition, entry by entry
    assert L[0, 0, j, i] == 0.0 and abs(L[0, 0, i, i] - 1.0) < EXACT
    out, _ = lnp.decayed_linear_attention(q, k, v, ld)
    np.testing.assert_allclose((L * (q @ np.swapaxes(k, -1, -2))) @ v, out, atol=EXACT)


def test_no_decay_is_unnormalised_linear_attention():
    """a = 1 (log a = 0): out_i = sum_{j<=i} (q_i . k_j) v_j, i.e. tril(Q K^T) V (identity feature map)."""
    q, k, v, ld = _inputs()
    zero = np.zeros_like(ld)
    expected = np.tril(q @ np.swapaxes(k, -1, -2)) @ v
    for cs in (None, 8):
        out, S = lnp.decayed_linear_attention(q, k, v, zero, chunk_size=cs)
        np.testing.assert_allclose(out, expected, atol=EXACT)
        np.testing.assert_allclose(S, np.swapaxes(k, -1, -2) @ v, atol=EXACT)


@pytest.mark.parametrize("chunk_size", [None, 6])
def test_split_and_carry_state(chunk_size):
    q, k, v, ld = _inputs(per_feature=True)
    full, S_full = lnp.decayed_linear_attention(q, k, v, ld, chunk_size=chunk_size)
    a, S_a = lnp.decayed_linear_attention(q[..., :15, :], k[..., :15, :], v[..., :15, :], ld[..., :15, :], chunk_size=chunk_size)
    b, S_b = lnp.decayed_linear_attention(q[..., 15:, :], k[..., 15:, :], v[..., 15:, :], ld[..., 15:, :],
                                          chunk_size=chunk_size, state=S_a)
    np.testing.assert_allclose(np.concatenate([a, b], axis=-2), full, atol=EXACT)
    np.testing.assert_allclose(S_b, S_full, atol=EXACT)


def test_long_sequence_no_underflow_nan():
    """Cumulative log-decay far below -745 (where exp underflows): outputs stay finite and equal the recurrence."""
    r = np.random.default_rng(1)
    n = 3000
    q, k, v = r.normal(size=(3, n, 4))
    ld = np.full(n, -2.0)                                             # cumulative log-decay reaches -6000
    out_r, _ = lnp.decayed_linear_attention(q, k, v, ld)
    out_c, _ = lnp.decayed_linear_attention(q, k, v, ld, chunk_size=64)
    assert np.isfinite(out_c).all()
    np.testing.assert_allclose(out_c, out_r, atol=EXACT)
    out_t, _ = lt.decayed_linear_attention(*_t(q, k, v, ld), chunk_size=64)
    assert torch.isfinite(out_t).all()
    np.testing.assert_allclose(out_t.numpy(), out_r, atol=EXACT)
    out_32, _ = lt.decayed_linear_attention(*(x.float() for x in _t(q, k, v, ld)), chunk_size=64)
    assert torch.isfinite(out_32).all()


@pytest.mark.parametrize("per_feature", [False, True])
@pytest.mark.parametrize("chunk_size", [None, 1, 8, 37, 50])
def test_torch_equals_numpy(per_feature, chunk_size):
    q, k, v, ld = _inputs(per_feature=per_feature)
    r = np.random.default_rng(5)
    S0 = r.normal(size=(2, 3, 5, 4))
    out, S = lnp.decayed_linear_attention(q, k, v, ld, state=S0)
    out_t, S_t = lt.decayed_linear_attention(*_t(q, k, v, ld), chunk_size=chunk_size, state=torch.from_numpy(S0))
    np.testing.assert_allclose(out_t.numpy(), out, atol=EXACT)
    np.testing.assert_allclose(S_t.numpy(), S, atol=EXACT)


def test_torch_decay_mask():
    ld = _inputs()[3]
    np.testing.assert_allclose(lt.decay_mask(torch.from_numpy(ld)).numpy(), lnp.decay_mask(ld), atol=EXACT)


@pytest.mark.parametrize("per_feature", [False, True])
def test_torch_gradients(per_feature):
    """Chunked form gradients (float64, finite differences), n = 7 with chunk 3 (does not divide)."""
    q, k, v, ld = _inputs(batch=(1,), n=7, d_k=3, d_v=2, per_feature=per_feature)
    args = [x.requires_grad_() for x in _t(q, k, v, ld)]
    assert torch.autograd.gradcheck(lambda *a: lt.decayed_linear_attention(*a, chunk_size=3), args)


def test_torch_low_precision_accumulates_in_float32():
    q, k, v, ld = _inputs()
    out64, _ = lt.decayed_linear_attention(*_t(q, k, v, ld), chunk_size=8)
    out, S = lt.decayed_linear_attention(*(x.bfloat16() for x in _t(q, k, v, ld)), chunk_size=8)
    assert out.dtype == torch.bfloat16 and S.dtype == torch.float32
    # bfloat16 inputs carry ~3 significant digits; the error is that of rounding the inputs, not of the sum
    assert (out.double() - out64).abs().max() < 0.05 * out64.abs().max()


@pytest.mark.parametrize("mirror, conv", [(lnp, np.asarray), (lt, torch.from_numpy)])
def test_validation_messages(mirror, conv):
    q, k, v, ld = (conv(x) for x in _inputs())
    with pytest.raises(ValueError, match="log_decay must be finite and <= 0"):
        mirror.decayed_linear_attention(q, k, v, -ld)
    with pytest.raises(ValueError, match=r"log_decay must have shape \(\.\.\., n\)"):
        mirror.decayed_linear_attention(q, k, v, ld[..., :5])
    with pytest.raises(ValueError, match="state must be S with shape"):
        mirror.decayed_linear_attention(q, k, v, ld, state=q[..., :3, :])
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        mirror.decayed_linear_attention(q, k, v, ld, chunk_size=0)
