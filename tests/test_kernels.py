"""The Triton kernels (linattn_edu.kernels) against the torch mirror, in Triton's interpreter on the CPU.

Skipped, with the reason printed (pytest -rs), when triton is not importable. TRITON_INTERPRET=1 is
set before triton is imported, so the kernels run on CPU tensors. Sizes are small (the interpreter
runs each program in NumPy); lengths are not multiples of the chunk size.

Tolerances (float32, both sides accumulate in float32, inputs of unit scale): the kernel and the
mirror sum the same terms (at most ~100 of size O(1..10)) in different orders. The worst case,
n * eps32 * max|term| ~ 100 * 1.2e-7 * 10 = 1.2e-4 of the largest entry, assumes every rounding
goes the same way; rounding errors of independent sums grow like sqrt(n) * eps32 * max|term|
~ 10 * 1.2e-7 * 10 = 1.2e-5, so TOL = 2e-5 of the largest reference entry. Measured (3 seeds,
n = 50, C = 16, out and dq, dk, dv, both flags): at most 2.8e-7. A wrong mask, scan or sign is an
O(1) error (tests/mutation/catalogue_nb13.py). The normalised output is a ratio of two such sums
with den >= phi(q).phi(k_1) > 0, so the same bound applies.
"""
import os

os.environ["TRITON_INTERPRET"] = "1"      # CPU tensors, also on a machine with a GPU

import pytest
import torch

triton = pytest.importorskip("triton", reason="triton not installed: pip install -e '.[kernels]' to run the kernel tests")

from linattn_edu.kernels import chunked_linear_attention as triton_attention  # noqa: E402
from linattn_edu.seeds import seed  # noqa: E402
from linattn_edu.torch import chunked_linear_attention as torch_attention  # noqa: E402
from linattn_edu.torch.chunkwise_fast import unnormalised_linear_attention  # noqa: E402

TOL = 2e-5   # relative to the largest entry of the reference (module docstring)


def close(a, b, name):
    scale = b.abs().max().item() + 1e-30
    err = (a.double() - b.double()).abs().max().item() / scale
    assert err <= TOL, f"{name}: max error {err:.2e} of the largest entry (tolerance {TOL:.0e})"


def inputs(shape, d, d_v, name, with_state=False):
    g = torch.Generator().manual_seed(seed(name))
    q, k = torch.randn(*shape, d, generator=g), torch.randn(*shape, d, generator=g)
    v = torch.randn(*shape, d_v, generator=g)
    if not with_state:
        return q, k, v, None
    S0 = torch.randn(*shape[:-1], d, d_v, generator=g)
    z0 = torch.rand(*shape[:-1], d, generator=g) * 5         # a normaliser is a sum of positive features
    return q, k, v, (S0, z0)


def reference(q, k, v, chunk_size, state, normalise):
    fn = torch_attention if normalise else unnormalised_linear_attention
    return fn(q, k, v, "elu_plus_one", chunk_size=chunk_size, state=state)


@pytest.mark.parametrize("normalise", [True, False])
@pytest.mark.parametrize("n, C, d, d_v, with_state", [(37, 16, 16, 16, False), (50, 32, 8, 12, True),
                                                    (5, 16, 16, 8, True)])
def test_forward_backward_match_the_mirror(normalise, n, C, d, d_v, with_state):
    q, k, v, state = inputs((2, n), d, d_v, f"kernels-{n}-{C}", with_state)
    leaves = [q, k, v] + (list(state) if state else [])
    for x in leaves:
        x.requires_grad_(True)
    ours = triton_attention(q, k, v, "elu_plus_one", chunk_size=C, state=state, normalise=normalise)
    ref = reference(q, k, v, C, state, normalise)
    for name, a, b in (("out", ours[0], ref[0]), ("S", ours[1][0], ref[1][0]), ("z", ours[1][1], ref[1][1])):
        close(a, b, name)
    g = torch.Generator().manual_seed(seed("kernels-grad"))
    w_out, w_S, w_z = (torch.randn(x.shape, generator=g) for x in (ref[0], ref[1][0], ref[1][1]))
    loss = lambda r: (r[0] * w_out).sum() + (r[1][0] * w_S).sum() + (r[1][1] * w_z).sum()   # noqa: E731
    g_ours = torch.autograd.grad(loss(ours), leaves)
    g_ref = torch.autograd.grad(loss(ref), leaves)
    for name, a, b in zip(["dq", "dk", "dv", "dS0", "dz0"], g_ours, g_ref):
        close(a, b, name)


def test_chunk_size_does_not_change_the_result():
    q, k, v, _ = inputs((1, 70), 16, 16, "kernels-chunks")
    a = triton_attention(q, k, v, chunk_size=16)[0]
    b = triton_attention(q, k, v, chunk_size=64)[0]
    close(a, b, "out C=16 vs C=64")


def test_causal_a_later_token_changes_no_earlier_output():
    q, k, v, _ = inputs((1, 40), 16, 16, "kernels-causal")
    a = triton_attention(q, k, v, chunk_size=16)[0]
    k2, v2 = k.clone(), v.clone()
    k2[:, 25:] += 3.0
    v2[:, 25:] -= 7.0
    b = triton_attention(q, k2, v2, chunk_size=16)[0]
    assert torch.equal(a[:, :25], b[:, :25])
    assert not torch.allclose(a[:, 25:], b[:, 25:])


def test_bad_arguments_are_named():
    q, k, v, _ = inputs((1, 8), 16, 16, "kernels-errors")
    with pytest.raises(ValueError, match="chunk_size"):
        triton_attention(q, k, v, chunk_size=24)
    with pytest.raises(ValueError, match="phi"):
        triton_attention(q, k, v, "relu_features")
    with pytest.raises(ValueError, match="q, k"):
        triton_attention(q, k[..., :8], v)
