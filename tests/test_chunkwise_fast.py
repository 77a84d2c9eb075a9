"""linattn_edu.torch.chunkwise_fast equals the readable reference forms (float64, CPU).

The public torch functions with an integer chunk_size run these fast paths, so the references here are the
recurrences (chunk_size=None) and the readable chunked forms (``_*_chunked_reference``), never the public
chunked call; test_public_chunked_calls_are_the_fast_path checks the wiring.

Odd lengths, chunk sizes that do not divide n, long scans (the decay scan's recursion, the delta rule's
blocked affine scan), state hand-off, gradients, and the precision policy in bfloat16."""
import pytest
import torch
import torch.nn.functional as F

from linattn_edu import torch as lt
from linattn_edu.torch import chunkwise_fast as cf
from linattn_edu.torch.delta_rule import _delta_chunked_reference
from linattn_edu.torch.gated_delta import _gated_delta_chunked_reference
from linattn_edu.torch.gating import _decayed_chunked_reference

F64 = dict(rtol=1e-10, atol=1e-10)


def _inputs(n, d_k=5, d_v=4, batch=(2, 3), seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(*batch, n, d_k, generator=g, dtype=torch.float64) for _ in range(2))
    v = torch.randn(*batch, n, d_v, generator=g, dtype=torch.float64)
    S0 = torch.randn(*batch, d_k, d_v, generator=g, dtype=torch.float64)
    scalar = -torch.rand(*batch, n, generator=g, dtype=torch.float64)              # log a in (-1, 0]
    feature = -torch.rand(*batch, n, d_k, generator=g, dtype=torch.float64) / 2
    beta = 2 * torch.rand(*batch, n, generator=g, dtype=torch.float64)              # (0, 2): eigenvalues in [-1, 1]
    return q, k, v, S0, scalar, feature, beta, g


@pytest.mark.parametrize("n, C", [(1, 4), (37, 8), (64, 16), (100, 7), (5, 64), (301, 3)])
@pytest.mark.parametrize("gate", ["scalar", "feature"])
def test_decay_equals_the_recurrence(n, C, gate):
    q, k, v, S0, scalar, feature, _, _ = _inputs(n)
    g = scalar if gate == "scalar" else feature
    ref, S_ref = lt.decayed_linear_attention(q, k, v, g, None, S0)                  # loop over t
    out, S = cf.decayed_linear_attention(q, k, v, g, C, S0)
    torch.testing.assert_close(out, ref, **F64)
    torch.testing.assert_close(S, S_ref, **F64)


@pytest.mark.parametrize("n, C", [(1, 4), (37, 8), (64, 16), (100, 7), (5, 64), (301, 3)])
def test_delta_rule_equals_the_recurrence(n, C):
    q, k, v, S0, _, _, beta, _ = _inputs(n)
    k = F.normalize(k, dim=-1)
    ref, S_ref = lt.delta_rule_attention(q, k, v, beta, None, S0)
    out, S = cf.delta_rule_attention(q, k, v, beta, C, S0)
    torch.testing.assert_close(out, ref, **F64)
    torch.testing.assert_close(S, S_ref, **F64)


def test_long_scans_recurse_correctly():
    """N = 1100 chunks of one token: the decay scan recurses twice (32 * 32 < 1100), the affine scan
    three levels deep; both against the readable chunked forms."""
    q, k, v, S0, scalar, feature, beta, _ = _inputs(1100, d_k=3, d_v=2, batch=(1,))
    for g in (scalar / 50, feature / 50):
        ref, S_ref = _decayed_chunked_reference(q, k, v, g, 64, S0)
        out, S = cf.decayed_linear_attention(q, k, v, g, 1, S0)
        torch.testing.assert_close(out, ref, **F64)
        torch.testing.assert_close(S, S_ref, **F64)
    kn = F.normalize(k, dim=-1)
    ref, S_ref = _delta_chunked_reference(q, kn, v, beta, 64, S0)
    out, S = cf.delta_rule_attention(q, kn, v, beta, 1, S0)
    torch.testing.assert_close(out, ref, **F64)
    torch.testing.assert_close(S, S_ref, **F64)


def test_strong_decay_and_resets_stay_finite():
    """log a = -1e4 (a reset) inside chunks: no overflow, no NaN, same as the recurrence."""
    q, k, v, S0, scalar, feature, _, _ = _inputs(90)
    scalar[..., ::7] = -1e4
    feature[..., ::5, :] = -1e4
    for g in (scalar, feature):
        ref, S_ref = lt.decayed_linear_attention(q, k, v, g, None, S0)
        out, S = cf.decayed_linear_attention(q, k, v, g, 16, S0)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(S, S_ref, rtol=1e-9, atol=1e-9)


def test_unnormalised_equals_zero_decay_and_hands_off_state():
    q, k, v, S0, _, _, _, g = _inputs(83)
    z0 = torch.rand(2, 3, 5, generator=g, dtype=torch.float64)
    fq, fk = lt.elu_plus_one(q), lt.elu_plus_one(k)
    ref, S_ref = lt.decayed_linear_attention(fq, fk, v, torch.zeros_like(fq[..., 0]), None, S0)
    out, (S, z) = cf.unnormalised_linear_attention(q, k, v, "elu_plus_one", 16, (S0, z0))
    torch.testing.assert_close(out, ref, **F64)
    torch.testing.assert_close(S, S_ref, **F64)
    torch.testing.assert_close(z, z0 + fk.sum(-2), **F64)
    # same state layout as chunked_linear_attention: its final state continues an unnormalised run
    a, (Sa, za) = lt.chunked_linear_attention(q[..., :40, :], k[..., :40, :], v[..., :40, :], "elu_plus_one", 16)
    b, (Sb, zb) = cf.unnormalised_linear_attention(q[..., 40:, :], k[..., 40:, :], v[..., 40:, :], "elu_plus_one",
                                                   16, (Sa, za))
    whole, (Sw, zw) = cf.unnormalised_linear_attention(q, k, v, "elu_plus_one", 16)
    torch.testing.assert_close(b, whole[..., 40:, :], **F64)
    torch.testing.assert_close(Sb, Sw, **F64)


@pytest.mark.parametrize("form", ["scalar", "feature", "delta"])
def test_state_hand_off(form):
    """Two calls with the state passed on == one call (split at a length that is not a chunk multiple)."""
    q, k, v, S0, scalar, feature, beta, _ = _inputs(77)
    if form == "delta":
        k = F.normalize(k, dim=-1)
        fn, gate = cf.delta_rule_attention, beta
    else:
        fn, gate = cf.decayed_linear_attention, scalar if form == "scalar" else feature
    whole, S_whole = fn(q, k, v, gate, 8, S0)
    a, Sa = fn(q[..., :29, :], k[..., :29, :], v[..., :29, :], gate[:, :, :29], 8, S0)
    b, Sb = fn(q[..., 29:, :], k[..., 29:, :], v[..., 29:, :], gate[:, :, 29:], 8, Sa)
    torch.testing.assert_close(torch.cat([a, b], -2), whole, **F64)
    torch.testing.assert_close(Sb, S_whole, **F64)


@pytest.mark.parametrize("form", ["scalar", "feature", "delta", "unnorm"])
def test_gradients_match_the_reference(form):
    """Autograd through the fast form == autograd through the readable form (q, k, v, gate, state)."""
    q, k, v, S0, scalar, feature, beta, g = _inputs(45, d_k=4, d_v=3, batch=(2,))
    w = torch.randn(2, 45, 3, generator=g, dtype=torch.float64)
    if form == "delta":
        k = F.normalize(k, dim=-1)
    gate = {"scalar": scalar, "feature": feature, "delta": beta, "unnorm": scalar}[form]
    leaves = [x.clone().requires_grad_() for x in (q, k, v, gate, S0)]

    def loss(fast):
        q_, k_, v_, g_, S_ = leaves
        if form == "delta":
            out, S = (cf.delta_rule_attention(q_, k_, v_, g_, 8, S_) if fast else
                      lt.delta_rule_attention(q_, k_, v_, g_, None, S_))
        elif form == "unnorm":
            if fast:
                out, (S, _) = cf.unnormalised_linear_attention(q_, k_, v_, "elu_plus_one", 8, (S_, S_[..., 0]))
            else:
                fq, fk = lt.elu_plus_one(q_), lt.elu_plus_one(k_)
                out, S = lt.decayed_linear_attention(fq, fk, v_, 0 * g_, None, S_)
        else:
            out, S = (cf.decayed_linear_attention(q_, k_, v_, g_, 8, S_) if fast else
                      lt.decayed_linear_attention(q_, k_, v_, g_, None, S_))
        return (out * w).sum() + S.square().sum()
    fast = torch.autograd.grad(loss(True), leaves, allow_unused=True)
    slow = torch.autograd.grad(loss(False), leaves, allow_unused=True)
    for a, b in zip(fast, slow):
        if form == "unnorm" and b is not None and a is None:
            continue
        torch.testing.assert_close(a if a is not None else torch.zeros_like(b), b if b is not None else
                                   torch.zeros_like(a), rtol=1e-9, atol=1e-10)


def test_bfloat16_policy_is_at_bf16_level():
    """bf16 in, float32 sums: the output within 1e-2 of float64 on the same inputs, state in float32."""
    g = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(1, 2, 700, 32, generator=g).bfloat16() for _ in range(3))
    ld = F.logsigmoid(torch.randn(1, 2, 700, generator=g) + 3)
    beta = torch.sigmoid(torch.randn(1, 2, 700, generator=g)).bfloat16()
    kn, qn = (F.normalize(x.float(), dim=-1).bfloat16() for x in (k, q))
    cases = [(cf.decayed_linear_attention, _decayed_chunked_reference, (q, k, v, ld)),
             (cf.delta_rule_attention, _delta_chunked_reference, (qn, kn, v, beta))]
    for fast, ref, args in cases:
        out, S = fast(*args, 64)
        want, _ = ref(*(x.double() for x in args), 64)
        assert out.dtype == torch.bfloat16 and S.dtype == torch.float32
        assert float((out.double() - want).norm() / want.norm()) < 1e-2


def test_errors_name_the_argument():
    q, k, v, S0, scalar, _, beta, _ = _inputs(10)
    with pytest.raises(ValueError, match="log_decay"):
        cf.decayed_linear_attention(q, k, v, -scalar + 0.1, 4)
    with pytest.raises(ValueError, match="log_decay must have shape"):
        cf.decayed_linear_attention(q, k, v, scalar[..., :5], 4)
    with pytest.raises(ValueError, match="beta"):
        cf.delta_rule_attention(q, k, v, beta * float("nan"), 4)
    with pytest.raises(ValueError, match="chunk_size"):
        cf.delta_rule_attention(q, k, v, beta, 0)
    with pytest.raises(ValueError, match="state"):
        cf.decayed_linear_attention(q, k, v, scalar, 4, S0[..., :2, :])


def test_empty_sequence_keeps_the_state():
    q, k, v, S0, scalar, _, beta, _ = _inputs(0)
    out, S = cf.decayed_linear_attention(q, k, v, scalar, 4, S0)
    assert out.shape == v.shape and torch.equal(S, S0)
    out, S = cf.delta_rule_attention(q, k, v, beta, 4, S0)
    assert out.shape == v.shape and torch.equal(S, S0)


# ---------------------------------------------------------------- Gated DeltaNet
def _gdn_inputs(n, d_k=5, d_v=4, batch=(2, 3), seed=0, log_decay=None):
    """Unit keys, beta in (0, 2) (transition eigenvalues 1 - beta in (-1, 1)), log a in (-1, 0] unless given."""
    q, k, v, S0, scalar, _, beta, g = _inputs(n, d_k, d_v, batch, seed)
    return q, F.normalize(k, dim=-1), v, S0, beta, scalar if log_decay is None else log_decay


@pytest.mark.parametrize("n, C", [(1, 4), (37, 8), (64, 16), (100, 7), (5, 64), (301, 3)])
def test_gated_delta_equals_the_recurrence(n, C):
    q, k, v, S0, beta, ld = _gdn_inputs(n)
    ref, S_ref = lt.gated_delta_rule_attention(q, k, v, beta, ld, None, S0)         # loop over t
    out, S = cf.gated_delta_rule_attention(q, k, v, beta, ld, C, S0)
    torch.testing.assert_close(out, ref, **F64)
    torch.testing.assert_close(S, S_ref, **F64)


@pytest.mark.parametrize("regime", ["a near 1", "a near 0", "resets", "beta near 0 and 2"])
def test_gated_delta_extreme_gates(regime):
    """a = 1 - 1e-9 (the delta rule), a = e^-30 (every step forgets), log a = -1e4 resets inside chunks,
    beta at 1e-6 and 2 - 1e-6: equal to the recurrence and finite (no exp of a positive number anywhere)."""
    n = 83
    q, k, v, S0, beta, ld = _gdn_inputs(n, seed=3)
    if regime == "a near 1":
        ld = torch.full_like(ld, -1e-9)
    elif regime == "a near 0":
        ld = torch.full_like(ld, -30.0)
    elif regime == "resets":
        ld[..., ::6] = -1e4
    else:
        beta[..., ::2], beta[..., 1::2] = 1e-6, 2 - 1e-6
    ref, S_ref = lt.gated_delta_rule_attention(q, k, v, beta, ld, None, S0)
    for C in (16, 13):
        out, S = cf.gated_delta_rule_attention(q, k, v, beta, ld, C, S0)
        assert torch.isfinite(out).all() and torch.isfinite(S).all()
        torch.testing.assert_close(out, ref, **F64)
        torch.testing.assert_close(S, S_ref, **F64)


def test_gated_delta_reductions():
    """log a = 0 gives the fast delta rule; beta -> the decayed form is checked in test_gated_delta.py."""
    q, k, v, S0, beta, ld = _gdn_inputs(50, seed=4)
    a, Sa = cf.gated_delta_rule_attention(q, k, v, beta, torch.zeros_like(ld), 8, S0)
    b, Sb = cf.delta_rule_attention(q, k, v, beta, 8, S0)
    torch.testing.assert_close(a, b, **F64)
    torch.testing.assert_close(Sa, Sb, **F64)


def test_gated_delta_long_scan():
    """N = 700 chunks of one token: the blocked affine scan two levels deep, against the recurrence and the
    readable chunked form (its loop over 11 chunks of 64)."""
    q, k, v, S0, beta, ld = _gdn_inputs(700, d_k=3, d_v=2, batch=(1,), seed=5)
    out, S = cf.gated_delta_rule_attention(q, k, v, beta, ld / 20, 1, S0)
    for ref, S_ref in (lt.gated_delta_rule_attention(q, k, v, beta, ld / 20, None, S0),
                       _gated_delta_chunked_reference(q, k, v, beta, ld / 20, 64, S0)):
        torch.testing.assert_close(out, ref, **F64)
        torch.testing.assert_close(S, S_ref, **F64)


@pytest.mark.parametrize("split, C", [(29, 8), (16, 16), (3, 5)])
def test_gated_delta_state_hand_off(split, C):
    """Two calls with the state passed on == one call (splits inside a chunk and on a chunk boundary)."""
    q, k, v, S0, beta, ld = _gdn_inputs(77, seed=6)
    whole, S_whole = cf.gated_delta_rule_attention(q, k, v, beta, ld, C, S0)
    a, Sa = cf.gated_delta_rule_attention(q[..., :split, :], k[..., :split, :], v[..., :split, :], beta[..., :split],
                                          ld[..., :split], C, S0)
    b, Sb = cf.gated_delta_rule_attention(q[..., split:, :], k[..., split:, :], v[..., split:, :], beta[..., split:],
                                          ld[..., split:], C, Sa)
    torch.testing.assert_close(torch.cat([a, b], -2), whole, **F64)
    torch.testing.assert_close(Sb, S_whole, **F64)


def test_gated_delta_gradients_match_the_recurrence():
    """Autograd through the fast form == autograd through the loop over t, for q, k, v, beta, log a and S_0."""
    q, k, v, S0, beta, ld = _gdn_inputs(45, d_k=4, d_v=3, batch=(2,), seed=7)
    w = torch.randn(2, 45, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    leaves = [x.clone().requires_grad_() for x in (q, k, v, beta, ld, S0)]

    def loss(C):
        out, S = (cf.gated_delta_rule_attention(*leaves[:5], C, leaves[5]) if C else
                  lt.gated_delta_rule_attention(*leaves[:5], None, leaves[5]))
        return (out * w).sum() + S.square().sum()
    slow = torch.autograd.grad(loss(None), leaves)
    for C in (8, 45):
        fast = torch.autograd.grad(loss(C), leaves)
        for name, a, b in zip(("q", "k", "v", "beta", "log_decay", "state"), fast, slow):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10, msg=lambda m: f"d{name}, C={C}: {m}")


def test_gated_delta_gradcheck():
    q, k, v, S0, beta, ld = _gdn_inputs(9, d_k=3, d_v=2, batch=(2,), seed=9)
    args = [x.clone().requires_grad_() for x in (q, k, v, beta, ld, S0)]
    assert torch.autograd.gradcheck(lambda q, k, v, b, g, s: cf.gated_delta_rule_attention(q, k, v, b, g, 4, s), args)


def test_gated_delta_bfloat16_policy():
    """bf16 in: out in bf16 within 1e-2 of float64 on the same inputs, state in float32; float16 runs in
    float32 (its range) and returns float16."""
    g = torch.Generator().manual_seed(10)
    q, k = (F.normalize(torch.randn(1, 2, 700, 32, generator=g), dim=-1).bfloat16() for _ in range(2))
    v = torch.randn(1, 2, 700, 32, generator=g).bfloat16()
    ld = F.logsigmoid(torch.randn(1, 2, 700, generator=g) + 3)
    beta = torch.sigmoid(torch.randn(1, 2, 700, generator=g)).bfloat16()
    want, _ = lt.gated_delta_rule_attention(*(x.double() for x in (q, k, v, beta, ld)), None)
    out, S = cf.gated_delta_rule_attention(q, k, v, beta, ld, 64)
    assert out.dtype == torch.bfloat16 and S.dtype == torch.float32
    assert float((out.double() - want).norm() / want.norm()) < 1e-2
    out16, S16 = cf.gated_delta_rule_attention(*(x.half() for x in (q, k, v, beta)), ld, 64)
    assert out16.dtype == torch.float16 and S16.dtype == torch.float32
    assert float((out16.double() - want).norm() / want.norm()) < 1e-2


def test_gated_delta_errors_and_empty():
    q, k, v, S0, beta, ld = _gdn_inputs(10)
    f = cf.gated_delta_rule_attention
    with pytest.raises(ValueError, match="log_decay must be finite and <= 0"):
        f(q, k, v, beta, -ld + 0.1, 4)
    with pytest.raises(ValueError, match="log_decay must have shape"):
        f(q, k, v, beta, ld[..., :5], 4)
    with pytest.raises(ValueError, match="beta must have shape"):
        f(q, k, v, beta[..., :5], ld, 4)
    with pytest.raises(ValueError, match="beta must be finite"):
        f(q, k, v, beta * float("nan"), ld, 4)
    with pytest.raises(ValueError, match="chunk_size"):
        f(q, k, v, beta, ld, 0)
    with pytest.raises(ValueError, match="state"):
        f(q, k, v, beta, ld, 4, S0[..., :2, :])
    q, k, v, S0, beta, ld = _gdn_inputs(0)
    out, S = f(q, k, v, beta, ld, 4, S0)
    assert out.shape == v.shape and torch.equal(S, S0)


@pytest.mark.parametrize("form", ["scalar", "feature", "delta", "gated"])
def test_public_chunked_calls_are_the_fast_path(form, monkeypatch):
    """linattn_edu.torch's public functions with an integer chunk_size run chunkwise_fast's cores (the
    notebooks call the fast path), agree with the readable chunked forms, and chunk_size=None does not."""
    from linattn_edu.torch import gating, delta_rule, gated_delta
    q, k, v, S0, beta, ld = _gdn_inputs(40, seed=11)
    feature = -torch.rand(*ld.shape, 5, generator=torch.Generator().manual_seed(12), dtype=torch.float64) / 2
    fn, ref, args, module, core = {
        "scalar": (lt.decayed_linear_attention, _decayed_chunked_reference, (q, k, v, ld), gating, "_decayed_core"),
        "feature": (lt.decayed_linear_attention, _decayed_chunked_reference, (q, k, v, feature), gating,
                    "_decayed_core"),
        "delta": (lt.delta_rule_attention, _delta_chunked_reference, (q, k, v, beta), delta_rule, "_delta_core"),
        "gated": (lt.gated_delta_rule_attention, _gated_delta_chunked_reference, (q, k, v, beta, ld), gated_delta,
                  "_gated_delta_core")}[form]
    calls = []
    real = getattr(cf, core)

    def counting(*a):
        calls.append(1)
        return real(*a)
    runner = {"_decayed_core": "run_decayed", "_delta_core": "run_delta", "_gated_delta_core": "run_gated_delta"}[core]
    real_runner = getattr(cf, runner)
    monkeypatch.setattr(module, runner, lambda *a: real_runner(*a, core=counting))
    out, S = fn(*args, chunk_size=7, state=S0)
    assert len(calls) == 1
    want, S_want = ref(*args, 7, S0)
    torch.testing.assert_close(out, want, **F64)
    torch.testing.assert_close(S, S_want, **F64)
    fn(*args, chunk_size=None, state=S0)
    assert len(calls) == 1


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("C", [4, 7, 40])
def test_gated_delta_later_tokens_never_change_earlier_outputs(C, dtype):
    """A NaN, +-inf or 1e30 in q, k or v at tokens t+1.. (or new gates) leaves outputs 0..t bit-identical:
    the masks select, and the products with later rows go through causal_matmul (test_reliability.py's
    sweep for the other forms)."""
    n = 23
    q, k, v, _, beta, ld = (x.to(dtype) for x in _gdn_inputs(n, batch=(2,), seed=13))
    ref, _ = cf.gated_delta_rule_attention(q, k, v, beta, ld, C)
    assert torch.isfinite(ref).all()
    g = torch.Generator().manual_seed(14)
    checked = 0
    for t in (0, 3, 4, 9, 21):
        for which in range(5):
            for fill in ((float("nan"), float("inf"), float("-inf"), 1e30) if which < 3 else ("new",)):
                xs = [x.clone() for x in (q, k, v, beta, ld)]
                tail = xs[which][:, t + 1:]
                if which == 3:
                    tail.copy_(2 * torch.rand(tail.shape, generator=g, dtype=dtype))
                elif which == 4:
                    tail.copy_(-30 * torch.rand(tail.shape, generator=g, dtype=dtype))
                else:
                    tail.fill_(fill)
                out, _ = cf.gated_delta_rule_attention(*xs, C)
                checked += 1
                assert torch.equal(out[:, :t + 1], ref[:, :t + 1]), (t, which, fill)
    assert checked == 5 * 14


@pytest.mark.parametrize("C", [3, 16, 64])
def test_readable_references_equal_the_recurrences(C):
    """The readable chunked forms kept as references (_*_chunked_reference) are themselves the recurrence."""
    q, k, v, S0, beta, ld = _gdn_inputs(41, seed=15)
    feature = -torch.rand(*ld.shape, 5, generator=torch.Generator().manual_seed(16), dtype=torch.float64) / 2
    pairs = [(_decayed_chunked_reference, lt.decayed_linear_attention, (q, k, v, ld)),
             (_decayed_chunked_reference, lt.decayed_linear_attention, (q, k, v, feature)),
             (_delta_chunked_reference, lt.delta_rule_attention, (q, k, v, beta)),
             (_gated_delta_chunked_reference, lt.gated_delta_rule_attention, (q, k, v, beta, ld))]
    for ref, public, args in pairs:
        out, S = ref(*args, C, S0)
        want, S_want = public(*args, None, S0)
        torch.testing.assert_close(out, want, **F64)
        torch.testing.assert_close(S, S_want, **F64)
