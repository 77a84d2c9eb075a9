"""linattn_edu.audit: row metrics and the head-type rules on synthetic maps whose type is known."""
import numpy as np
import pytest
import torch

from linattn_edu import audit
from linattn_edu import torch as lt

N, n = 6, 48


def causal_uniform(n):
    A = np.tril(np.ones((n, n)))
    return A / A.sum(-1, keepdims=True)


def test_total_variation_properties():
    g = np.random.default_rng(0)
    p, q, r = (g.dirichlet(np.ones(10), size=5) for _ in range(3))
    assert np.allclose(audit.total_variation(p, p), 0)
    assert np.allclose(audit.total_variation(p, q), audit.total_variation(q, p))
    assert np.all(audit.total_variation(p, r) <= audit.total_variation(p, q) + audit.total_variation(q, r) + 1e-12)
    assert np.all(audit.total_variation(p, q) <= 1)
    e0, e1 = np.eye(10)[0], np.eye(10)[1]
    assert audit.total_variation(e0, e1) == pytest.approx(1.0)           # disjoint rows: TV = 1
    assert audit.total_variation(e0, 0.5 * e0 + 0.5 * e1) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same shape"):
        audit.total_variation(p, q[:, :3])


def test_entropy_and_overlap():
    assert audit.entropy(np.full(8, 1 / 8)) == pytest.approx(np.log(8))
    assert audit.entropy(np.eye(4)[2]) == 0
    p = np.array([0.5, 0.3, 0.15, 0.05])
    assert audit.topk_overlap(p, p[::-1].copy(), 2) == 0
    assert audit.topk_overlap(p, np.array([0.3, 0.5, 0.0, 0.2]), 2) == 1
    assert audit.topk_overlap(p, np.array([0.6, 0.0, 0.0, 0.4]), 2) == 0.5
    # the cap: a row of length 1 has top-1 == its only key, whatever k
    assert audit.topk_overlap(p, p[::-1].copy(), 3, lengths=1) == 1
    with pytest.raises(ValueError, match="k must be a positive integer"):
        audit.topk_overlap(p, p, 0)


def test_output_error_and_row_metrics():
    g = np.random.default_rng(1)
    A = causal_uniform(n)
    v = g.normal(size=(n, 3))
    m = audit.row_metrics(A, A, v)
    assert np.allclose(m["tv"], 0) and np.allclose(m["out_err"], 0) and np.allclose(m["overlap"], 1)
    assert np.allclose(m["norm_entropy"][1:], 1)          # uniform rows have the maximal entropy log(i + 1)
    B = np.triu(np.ones((n, n)), 1) * 0.1 + A
    assert np.all(audit.row_metrics(A, B, v)["future_mass"][:-1] > 0)


def maps(kind, g):
    """N windows of tokens and one head's maps of a known type."""
    tokens = g.integers(0, 20, size=(N, n))
    A = np.zeros((N, n, n))
    if kind == "previous-token":
        A[:, 0, 0] = 1
        A[:, np.arange(1, n), np.arange(n - 1)] = 1
    elif kind == "induction":
        half = n // 2
        tokens[:, half:] = tokens[:, :half]             # the second half repeats the first
        for w in range(N):
            for i in range(n):
                A[w, i] = causal_uniform(n)[i]
                if i >= half + 2:
                    A[w, i] = 0
                    A[w, i, i - half + 1] = 1              # the token after the earlier copy of x_i
    elif kind == "positional":
        fixed = np.tril(np.exp(g.normal(size=(n, n)) * 3))  # sharp but the same for every window
        fixed /= fixed.sum(-1, keepdims=True)
        A[:] = fixed
    elif kind == "diffuse":
        A[:] = causal_uniform(n)
    elif kind == "content":
        for w in range(N):                              # each window attends to its own random key
            for i in range(n):
                A[w, i, g.integers(0, i + 1)] = 1
    return A, tokens


@pytest.mark.parametrize("kind", audit.HEAD_TYPES)
def test_classify_synthetic_heads(kind):
    g = np.random.default_rng(2)
    A, tokens = maps(kind, g)
    scores = audit.head_scores(A, tokens)
    assert audit.classify_head(scores) == kind, scores


def test_method_weights_are_the_methods():
    """The implied weights applied to v give the method's output (the weights are what the model uses)."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 16, 8, generator=g, dtype=torch.float64) for _ in range(3))
    for name in audit.method_names(favor_m=(8,)):
        W = audit.method_weights(name, q, k)
        out = audit.method_attention(name)(q, k, v)
        torch.testing.assert_close(W @ v, out, rtol=1e-9, atol=1e-9)
        if not name.startswith("linformer"):
            assert torch.all(W.triu(1) == 0), name          # causal methods give no weight to the future
            torch.testing.assert_close(W.sum(-1), torch.ones(2, 3, 16, dtype=torch.float64))
    torch.testing.assert_close(audit.method_weights("softmax", q, k), lt.attention_weights(q, k, causal=True))
    # Taylor's kernel 1 + s + s^2/2 approaches exp(s) for small logits: TV to softmax shrinks with the scale
    small = audit.total_variation(lt.attention_weights(q * 0.1, k, causal=True).numpy(),
                                  audit.method_weights("taylor", q * 0.1, k).numpy()).mean()
    large = audit.total_variation(lt.attention_weights(q, k, causal=True).numpy(),
                                  audit.method_weights("taylor", q, k).numpy()).mean()
    assert small < 0.1 * large
    with pytest.raises(ValueError, match="unknown method"):
        audit.method_attention("cosformer")


def test_head_swap_changes_one_head_only():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 3, 10, 4, generator=g, dtype=torch.float64) for _ in range(3))
    f = audit.head_swap_attention(audit.method_attention("elu+1"), head=1)
    ref = lt.softmax_attention(q, k, v, causal=True)
    out = f(q, k, v)
    torch.testing.assert_close(out[:, [0, 2]], ref[:, [0, 2]])
    torch.testing.assert_close(out[:, 1], lt.kernel_attention(q, k, v, lt.elu_plus_one, causal=True)[:, 1])
