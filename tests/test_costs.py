"""The cost model (linattn_edu.costs) against what instrumented implementations actually execute.

Each form below is written out with a tiny recorder: every matrix product goes through ``mm``, which
records the shapes (..., a, b) @ (..., b, c) it ran and charges 2abc FLOPs per batch entry; every
elementwise op charges one FLOP per output entry. The FLOP totals therefore come from the shapes that
were executed, not from the formulas in costs.py. Each instrumented form must also return the same
numbers as the library, so it is a real implementation. Memory is measured with tracemalloc (NumPy
reports its buffers to it): the peak bytes held during the form, minus the output, over 8.
"""
import math
import tracemalloc

import numpy as np
import pytest

from linattn_edu import costs
from linattn_edu import numpy as lnp


class Recorder:
    """Executes the ops and records them: matmul shapes and elementwise output sizes."""

    def __init__(self):
        self.shapes = set()      # distinct ((..., a, b), (..., b, c)) shapes executed
        self.flops = 0

    def mm(self, a, b):
        sa, sb = a.shape, b.shape
        self.shapes.add((sa, sb))
        batch = math.prod(np.broadcast_shapes(sa[:-2], sb[:-2]))
        self.flops += 2 * batch * sa[-2] * sa[-1] * sb[-1]     # (a, b) @ (b, c): a*c dots of b multiply-adds
        return a @ b

    def outer(self, a, b):
        """Batched outer products a_i b_i^T: one multiply per output entry (no adds).

        Computed as a (..., m, 1) @ (..., 1, e) product, which needs no ufunc buffer.
        """
        out = a[..., :, None] @ b[..., None, :]
        self.flops += out.size
        return out

    def ew(self, n_entries):
        self.flops += int(n_entries)                           # one FLOP per output entry


def _divide_into(rec, nd, out):
    """out = numerator / normaliser, read from the last column of nd = [num | den].

    Row by row, so that NumPy needs no ufunc buffer for the strided operands (that buffer, up to
    8192 entries, would otherwise show up in the tracemalloc peak).
    """
    nd2, out2 = nd.reshape(-1, nd.shape[-1]), out.reshape(-1, out.shape[-1])
    for i in range(nd2.shape[0]):
        np.divide(nd2[i, :-1], nd2[i, -1], out=out2[i])
    rec.ew(out.size)
    return out


def _mask_in_place(sim):
    for i in range(sim.shape[-2]):          # zero j > i, row by row: no index arrays allocated
        sim[i, i + 1:] = 0.0


def softmax_quadratic(rec, q_scaled, k, v1):
    sim = rec.mm(q_scaled, k.T)                     # (n, d) @ (d, n)
    np.exp(sim, out=sim)
    rec.ew(sim.size)
    nd = rec.mm(sim, v1)                            # (n, n) @ (n, d_v + 1)
    return _divide_into(rec, nd, np.empty((nd.shape[0], nd.shape[1] - 1)))


def kernel_quadratic(rec, fq, fk, v1, causal=False):
    sim = rec.mm(fq, fk.T)                          # (n, m) @ (m, n)
    if causal:
        _mask_in_place(sim)
    nd = rec.mm(sim, v1)
    return _divide_into(rec, nd, np.empty((nd.shape[0], nd.shape[1] - 1)))


def linear_reassociated(rec, fq, fk, v1):
    S = rec.mm(fk.T, v1)                            # (m, n) @ (n, d_v + 1): state [S z]
    nd = rec.mm(fq, S)                              # (n, m) @ (m, d_v + 1)
    return _divide_into(rec, nd, np.empty((nd.shape[0], nd.shape[1] - 1)))


def cumsum_form(rec, fq, fk, v1):
    outer = rec.outer(fk, v1)                       # (n, m, d_v + 1): phi(k_j) v'_j^T
    S = np.cumsum(outer, axis=0)                    # prefix sums: n - 1 adds per entry
    rec.ew((S.shape[0] - 1) * S.shape[1] * S.shape[2])
    nd = rec.mm(fq[:, None, :], S)[:, 0, :]         # (n, 1, m) @ (n, m, d_v + 1)
    return _divide_into(rec, nd, np.empty((nd.shape[0], nd.shape[1] - 1)))


def recurrent_form(rec, fq, fk, v1, out):
    S = np.zeros((fk.shape[1], v1.shape[1]))
    for t in range(fk.shape[0]):
        upd = rec.outer(fk[t], v1[t])               # phi(k_t) v'_t^T: (m, d_v + 1)
        S += upd
        rec.ew(S.size)
        del upd                                     # free it before the next step makes a new one
        r = rec.mm(fq[t][None, :], S)               # (1, m) @ (m, d_v + 1)
        _divide_into(rec, r[0], out[t])
    return out


def chunked_form(rec, fq, fk, v1, chunk_size, out):
    n = fq.shape[0]
    S = np.zeros((fk.shape[1], v1.shape[1]))
    for start in range(0, n, chunk_size):
        sl = slice(start, min(start + chunk_size, n))
        sim = rec.mm(fq[sl], fk[sl].T)              # (L, m) @ (m, L)
        _mask_in_place(sim)
        intra = rec.mm(sim, v1[sl])                 # (L, L) @ (L, d_v + 1)
        inter = rec.mm(fq[sl], S)                   # (L, m) @ (m, d_v + 1)
        inter += intra
        rec.ew(inter.size)
        _divide_into(rec, inter, out[sl])
        upd = rec.mm(fk[sl].T, v1[sl])              # (m, L) @ (L, d_v + 1)
        S += upd
        rec.ew(S.size)
        del sim, intra, inter, upd                  # free this chunk's temporaries before the next
    return out


def _inputs(n=48, d=6, d_v=5, seed=0):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((n, w)) * 0.5 for w in (d, d, d_v))
    fq, fk = lnp.elu_plus_one(q), lnp.elu_plus_one(k)
    v1 = np.concatenate([v, np.ones((n, 1))], axis=1)       # V' = [V 1]
    return q, k, v, fq, fk, v1


def _measure(fn, *args):
    """(result, peak intermediate floats): tracemalloc peak during fn minus the result's own buffer."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = fn(*args)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return result, peak / 8


# Python objects (tuples, ints, slices) also count in tracemalloc; this many bytes of slack is allowed.
PY_OVERHEAD_FLOATS = 2048 / 8


@pytest.mark.parametrize("n,d,d_v", [(48, 6, 5), (17, 3, 8)])
def test_noncausal_flops_match_instrumented(n, d, d_v):
    q, k, v, fq, fk, v1 = _inputs(n, d, d_v)
    m = fq.shape[1]

    rec = Recorder()
    out = softmax_quadratic(rec, q / np.sqrt(d), k, v1)
    np.testing.assert_allclose(out, lnp.softmax_attention(q, k, v), rtol=1e-12, atol=1e-12)
    assert rec.flops == costs.quadratic_attention_cost(n, d, d_v=d_v).flops

    rec = Recorder()
    out = kernel_quadratic(rec, fq, fk, v1)
    np.testing.assert_allclose(out, lnp.kernel_attention(q, k, v, "elu_plus_one"), rtol=1e-12)
    assert rec.flops == costs.quadratic_attention_cost(n, d, m=m, d_v=d_v).flops

    rec = Recorder()
    out = linear_reassociated(rec, fq, fk, v1)
    np.testing.assert_allclose(out, lnp.linear_attention(q, k, v, "elu_plus_one"), rtol=1e-12)
    assert rec.flops == costs.linear_attention_cost(n, m, d_v).flops


def test_causal_flops_match_instrumented():
    n, d, d_v = 37, 4, 3
    q, k, v, fq, fk, v1 = _inputs(n, d, d_v)
    m = fq.shape[1]
    ref = lnp.kernel_attention(q, k, v, "elu_plus_one", causal=True)

    rec = Recorder()
    np.testing.assert_allclose(kernel_quadratic(rec, fq, fk, v1, causal=True), ref, rtol=1e-12)
    assert rec.flops == costs.causal_quadratic_cost(n, m, d_v).flops

    rec = Recorder()
    np.testing.assert_allclose(cumsum_form(rec, fq, fk, v1), ref, rtol=1e-12)
    assert rec.flops == costs.cumsum_cost(n, m, d_v).flops

    rec = Recorder()
    np.testing.assert_allclose(recurrent_form(rec, fq, fk, v1, np.empty((n, d_v))), ref, rtol=1e-12)
    assert rec.flops == costs.recurrent_cost(n, m, d_v).flops

    for C in (1, 5, 16, 37, 50):            # 37 = n and 50 > n; 5 and 16 leave a short last chunk
        rec = Recorder()
        out = chunked_form(rec, fq, fk, v1, C, np.empty((n, d_v)))
        np.testing.assert_allclose(out, ref, rtol=1e-12)
        assert rec.flops == costs.chunked_cost(n, m, d_v, C).flops, C


def _close(measured, model):
    return model <= measured + 1 and measured <= model * 1.01 + PY_OVERHEAD_FLOATS


def test_memory_matches_tracemalloc_peak():
    n, d, d_v = 256, 48, 47               # sizes at which Python's own small objects are noise
    q, k, v, fq, fk, v1 = _inputs(n, d, d_v)
    m = fq.shape[1]
    rec = Recorder()

    out, peak = _measure(kernel_quadratic, rec, fq, fk, v1)
    assert _close(peak - out.size, costs.quadratic_attention_cost(n, d, m=m, d_v=d_v).memory)
    out, peak = _measure(linear_reassociated, rec, fq, fk, v1)
    assert _close(peak - out.size, costs.linear_attention_cost(n, m, d_v).memory)
    out, peak = _measure(cumsum_form, rec, fq, fk, v1)
    assert _close(peak - out.size, costs.cumsum_cost(n, m, d_v).memory)
    # the recurrent and chunked forms write into a preallocated output, so the peak excludes it
    _, peak = _measure(recurrent_form, rec, fq, fk, v1, np.empty((n, d_v)))
    assert _close(peak, costs.recurrent_cost(n, m, d_v).memory)
    for C in (1, 16, 64, n):
        _, peak = _measure(chunked_form, rec, fq, fk, v1, C, np.empty((n, d_v)))
        assert _close(peak, costs.chunked_cost(n, m, d_v, C).memory), C


def test_crossover_is_where_the_costs_cross():
    for d, m, d_v in [(64, 64, 64), (16, 273, 16), (32, 256, 32), (8, 8, 8)]:
        x = costs.crossover_length(d, m, d_v).flops
        lo, hi = math.floor(x), math.ceil(x) + (x == math.ceil(x))
        quad = lambda n: costs.quadratic_attention_cost(n, d, d_v=d_v)
        lin = lambda n: costs.linear_attention_cost(n, m, d_v)
        if lo >= 1:
            assert quad(lo).flops <= lin(lo).flops
        assert quad(hi).flops > lin(hi).flops
        xm = costs.crossover_length(d, m, d_v).memory
        assert quad(math.ceil(xm) + 1).memory > lin(math.ceil(xm) + 1).memory
        assert quad(max(1, math.floor(xm) - 1)).memory < lin(max(1, math.floor(xm) - 1)).memory
        xk = costs.crossover_length(d, m, d_v, baseline="kernel").flops
        assert xk < 2 * min(m, d_v + 1)
        kq = costs.quadratic_attention_cost(math.ceil(xk) + 1, d, m=m, d_v=d_v).flops
        assert kq > costs.linear_attention_cost(math.ceil(xk) + 1, m, d_v).flops


def test_chunked_endpoints_and_trends():
    n, m, d_v = 256, 16, 16
    rec_c = costs.recurrent_cost(n, m, d_v)
    quad = costs.causal_quadratic_cost(n, m, d_v)
    one, full = costs.chunked_cost(n, m, d_v, 1), costs.chunked_cost(n, m, d_v, n)
    assert one.steps == n and full.steps == 1
    # C = 1: a recurrence, at most 1.35x the RNN's FLOPs here (the 1 x 1 "intra-chunk" block per
    # token, and the state update phi(k)^T v' done as a matmul with inner size 1, counted 2 per entry)
    assert 1 < one.flops / rec_c.flops < 1.35
    assert one.memory == costs.chunked_cost(4 * n, m, d_v, 1).memory      # independent of n
    # C = n: the masked quadratic form plus the (empty) state read-out and the final state update
    assert 0 < full.flops - quad.flops <= 4 * n * m * (d_v + 1) + m * (d_v + 1) + n * (d_v + 1)
    assert full.memory >= quad.memory
    mems = [costs.chunked_cost(n, m, d_v, C).memory for C in (1, 2, 4, 8, 16, 32, 64, 128, 256)]
    steps = [costs.chunked_cost(n, m, d_v, C).steps for C in (1, 2, 4, 8, 16, 32, 64, 128, 256)]
    assert all(a < b for a, b in zip(mems, mems[1:]))
    assert all(a > b for a, b in zip(steps, steps[1:]))
    assert costs.chunk_lengths(10, 4) == [4, 4, 2]


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        costs.linear_attention_cost(0, 4, 4)
    with pytest.raises(ValueError, match="chunk_size"):
        costs.chunked_cost(8, 4, 4, 0)
    with pytest.raises(ValueError, match="baseline"):
        costs.crossover_length(8, 8, baseline="flash")


# --- the feature map: what the linear form pays against softmax, which starts from Q and K ---------

def features_instrumented(rec, phi, x, w=None):
    """phi(x) for x: (n, d), every FLOP charged as executed (the library's formulas, op by op)."""
    n, d = x.shape
    if phi == "elu_plus_one":
        plus, ex = x + 1.0, np.exp(np.minimum(x, 0.0))      # both branches computed, one kept
        rec.ew(plus.size + ex.size)
        return np.where(x > 0, plus, ex)
    if phi == "relu_features":
        rec.ew(x.size)
        return np.maximum(x, 0.0)
    if phi == "taylor_features":
        outer = rec.outer(x, x).reshape(n, d * d)           # n d^2 multiplies
        outer /= np.sqrt(2.0)
        rec.ew(outer.size)
        return np.concatenate([np.ones((n, 1)), x, outer], axis=1)
    if phi == "positive_features":
        m = w.shape[0]
        out = rec.mm(x, w.T)                                # (n, d) @ (d, m)
        half_sq = np.einsum("ij,ij->i", x, x)[:, None]      # n d multiplies + n (d - 1) adds
        rec.ew(n * d + n * (d - 1))
        half_sq *= 0.5
        rec.ew(n)
        out -= half_sq                                      # in place: no second (n, m) buffer
        np.exp(out, out=out)
        out /= np.sqrt(m)
        rec.ew(3 * out.size)
        return out
    raise AssertionError(phi)


@pytest.mark.parametrize("phi,m", [("elu_plus_one", None), ("relu_features", None),
                                   ("taylor_features", None), ("positive_features", 40)])
def test_feature_map_flops_match_instrumented(phi, m):
    n, d, d_v = 29, 5, 4
    q, k, v, _, _, v1 = _inputs(n, d, d_v)
    w = lnp.gaussian_projection(m, d, seed=3) if m else None
    rec = Recorder()
    fq, fk = features_instrumented(rec, phi, q, w), features_instrumented(rec, phi, k, w)
    ref = getattr(lnp, phi)
    np.testing.assert_allclose(fq, ref(q, w) if w is not None else ref(q), rtol=1e-12)
    np.testing.assert_allclose(fk, ref(k, w) if w is not None else ref(k), rtol=1e-12)
    cost = costs.feature_map_cost(phi, n, d, m)
    assert rec.flops == cost.flops
    assert cost.memory == fq.size + fk.size
    # the linear form from Q and K = the features, then the reassociated order
    linear_reassociated(rec, fq, fk, v1)
    width = fq.shape[1]
    assert rec.flops == costs.linear_attention_cost(n, width, d_v, features=phi, d=d).flops
    rec2 = Recorder()
    kernel_quadratic(rec2, features_instrumented(rec2, phi, q, w), features_instrumented(rec2, phi, k, w), v1)
    assert rec2.flops == costs.quadratic_attention_cost(n, d, m=width, d_v=d_v, features=phi).flops


def _performer_from_qk(rec, q, k, v1, w):
    fq = features_instrumented(rec, "positive_features", q, w)
    fk = features_instrumented(rec, "positive_features", k, w)
    return linear_reassociated(rec, fq, fk, v1)


def test_feature_map_memory_matches_tracemalloc_peak():
    n, d, d_v, m = 256, 48, 47, 96
    q, k, v, _, _, v1 = _inputs(n, d, d_v)
    w = lnp.gaussian_projection(m, d, seed=5)
    out, peak = _measure(_performer_from_qk, Recorder(), q, k, v1, w)
    np.testing.assert_allclose(out, lnp.linear_attention(q, k, v, lambda x: lnp.positive_features(x, w)), rtol=1e-10)
    model = costs.linear_attention_cost(n, m, d_v, features="positive_features", d=d).memory
    assert _close(peak - out.size, model)
    assert model - costs.linear_attention_cost(n, m, d_v).memory == 2 * n * m


def test_crossover_with_features_is_where_the_costs_cross():
    # Performer's setting (d = d_v = 64, m = 256): the feature map moves n* from ~257 / ~129 to ~517 / ~543
    x0 = costs.crossover_length(64, 256, 64)
    x = costs.crossover_length(64, 256, 64, features="positive_features")
    assert 256 < x0.flops < 258 and 128 < x0.memory < 130
    assert 516 < x.flops < 518 and 542 < x.memory < 544
    for d, m, d_v, phi in [(64, 256, 64, "positive_features"), (16, 273, 16, "taylor_features"),
                           (32, 32, 32, "elu_plus_one"), (8, 8, 16, "relu_features"), (4, 512, 4, "positive_features")]:
        x = costs.crossover_length(d, m, d_v, features=phi)
        quad = lambda n: costs.quadratic_attention_cost(n, d, d_v=d_v)
        lin = lambda n: costs.linear_attention_cost(n, m, d_v, features=phi, d=d)
        lo, hi = math.floor(x.flops), math.floor(x.flops) + 1
        if lo >= 1:
            assert quad(lo).flops <= lin(lo).flops, (d, m, phi)
        assert quad(hi).flops > lin(hi).flops, (d, m, phi)
        lo, hi = math.floor(x.memory), math.floor(x.memory) + 1
        assert quad(lo).memory <= lin(lo).memory and quad(hi).memory > lin(hi).memory, (d, m, phi)
        # same phi on both sides: features cancel
        assert costs.crossover_length(d, m, d_v, baseline="kernel", features=phi) == \
            costs.crossover_length(d, m, d_v, baseline="kernel")


def test_feature_map_cost_bad_input_is_named():
    with pytest.raises(ValueError, match="phi must be one of"):
        costs.feature_map_cost("softmax", 8, 4)
    with pytest.raises(ValueError, match="m .*required"):
        costs.feature_map_cost("positive_features", 8, 4)
    with pytest.raises(ValueError, match="taylor_features has m = 21"):
        costs.feature_map_cost("taylor_features", 8, 4, m=16)
    with pytest.raises(ValueError, match="d .*required"):
        costs.linear_attention_cost(8, 4, 4, features="elu_plus_one")
    with pytest.raises(ValueError, match="needs m"):
        costs.quadratic_attention_cost(8, 4, features="elu_plus_one")
