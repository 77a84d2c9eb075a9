"""Causal forms agree: cumsum (parallel) == recurrent == chunked, any chunk size; state hand-off; gradients."""
import numpy as np
import pytest
import torch

from linattn_edu import numpy as lnp, torch as lt
from arrays import qkv, T

N = 45          # not a multiple of 7 or 64


@pytest.mark.parametrize("phi", ["elu_plus_one", "relu_features", "taylor_features"])
def test_parallel_recurrent_chunked_agree(phi, rng):
    q, k, v = qkv(rng, (2,), n=N, d=5, d_v=3)
    ref = lnp.linear_attention(q, k, v, phi, causal=True)
    np.testing.assert_allclose(lnp.kernel_attention(q, k, v, phi, causal=True), ref, rtol=1e-10, atol=1e-12)
    out_r, (S_r, z_r) = lnp.recurrent_linear_attention(q, k, v, phi)
    np.testing.assert_allclose(out_r, ref, rtol=1e-10, atol=1e-12)
    for C in (1, 7, 64, N):
        out_c, (S_c, z_c) = lnp.chunked_linear_attention(q, k, v, phi, chunk_size=C)
        np.testing.assert_allclose(out_c, ref, rtol=1e-10, atol=1e-12, err_msg=f"numpy C={C}")
        np.testing.assert_allclose(S_c, S_r, rtol=1e-10)
        np.testing.assert_allclose(z_c, z_r, rtol=1e-10)
        out_t, (S_t, z_t) = lt.chunked_linear_attention(*T(q, k, v), phi, chunk_size=C)
        np.testing.assert_allclose(out_t.numpy(), ref, rtol=1e-10, atol=1e-12, err_msg=f"torch C={C}")
        np.testing.assert_allclose(S_t.numpy(), S_r, rtol=1e-10)
        np.testing.assert_allclose(z_t.numpy(), z_r, rtol=1e-10)


def test_final_state_is_the_sum_of_outer_products(rng):
    q, k, v = qkv(rng, (), n=10, d=4, d_v=2)
    _, (S, z) = lnp.recurrent_linear_attention(q, k, v, "elu_plus_one")
    fk = lnp.elu_plus_one(k)
    np.testing.assert_allclose(S, fk.T @ v, rtol=1e-12)
    np.testing.assert_allclose(z, fk.sum(0), rtol=1e-12)


@pytest.mark.parametrize("mod", [lnp, lt])
@pytest.mark.parametrize("split", [1, 13, 30])
def test_state_hand_off_equals_one_run(mod, split, rng):
    q, k, v = qkv(rng, (3,), n=N, d=4, d_v=2)
    if mod is lt:
        q, k, v = T(q, k, v)
    cat = np.concatenate if mod is lnp else torch.cat
    full, (S, z) = mod.chunked_linear_attention(q, k, v, "elu_plus_one", chunk_size=8)
    for f, kw in ((mod.chunked_linear_attention, {"chunk_size": 8}), (mod.recurrent_linear_attention, {})):
        a, st = f(q[..., :split, :], k[..., :split, :], v[..., :split, :], "elu_plus_one", **kw)
        b, (S2, z2) = f(q[..., split:, :], k[..., split:, :], v[..., split:, :], "elu_plus_one", state=st, **kw)
        both = cat([a, b], -2)
        np.testing.assert_allclose(np.asarray(both), np.asarray(full), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(np.asarray(S2), np.asarray(S), rtol=1e-10)
        np.testing.assert_allclose(np.asarray(z2), np.asarray(z), rtol=1e-10)


def test_dropping_the_normaliser_state_is_wrong(rng):
    """The bug the hand-off test guards against: carrying S but restarting z changes the output."""
    q, k, v = qkv(rng, (), n=20, d=4, d_v=2)
    full, _ = lnp.recurrent_linear_attention(q, k, v, "elu_plus_one")
    _, (S, z) = lnp.recurrent_linear_attention(q[:10], k[:10], v[:10], "elu_plus_one")
    wrong, _ = lnp.recurrent_linear_attention(q[10:], k[10:], v[10:], "elu_plus_one", state=(S, np.zeros_like(z)))
    assert np.abs(wrong - full[10:]).max() > 0.1


@pytest.mark.parametrize("C", [1, 7, 64])
def test_chunked_gradients_equal_quadratic_gradients(C, rng):
    q, k, v = qkv(rng, (2,), n=N, d=4, d_v=3)
    grads = []
    g_out = torch.from_numpy(rng.standard_normal((2, N, 3)))
    for f in (lambda a, b, c: lt.kernel_attention(a, b, c, "elu_plus_one", causal=True),
              lambda a, b, c: lt.chunked_linear_attention(a, b, c, "elu_plus_one", chunk_size=C)[0]):
        ts = [t.clone().requires_grad_(True) for t in T(q, k, v)]
        (f(*ts) * g_out).sum().backward()
        grads.append([t.grad for t in ts])
    for ga, gb in zip(*grads):
        torch.testing.assert_close(gb, ga, rtol=1e-9, atol=1e-11)


def test_chunked_gradcheck(rng):
    q, k, v = (t.requires_grad_(True) for t in T(*qkv(rng, (), n=9, d=3, d_v=2)))
    assert torch.autograd.gradcheck(lambda a, b, c: lt.chunked_linear_attention(a, b, c, "elu_plus_one", chunk_size=4)[0],
                                    (q, k, v))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_low_precision_inputs_keep_a_float32_state(dtype, rng):
    q, k, v = qkv(rng, (2,), n=300, d=8, d_v=8)
    ref = lnp.linear_attention(q, k, v, "elu_plus_one", causal=True)
    out, (S, z) = lt.chunked_linear_attention(*[t.to(dtype) for t in T(q, k, v)], "elu_plus_one", chunk_size=64)
    assert out.dtype == dtype and S.dtype == torch.float32 and z.dtype == torch.float32
    rel = np.linalg.norm(out.double().numpy() - ref) / np.linalg.norm(ref)
    tol = {torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 5e-3}[dtype]
    assert rel < tol, rel
