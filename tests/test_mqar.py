"""MQAR generator and tiny models (kept under a few seconds: training is measured in notebook 09)."""
import math

import pytest
import torch

from linattn_edu.mqar import IGNORE, MIXERS, MQARModel, format_summary, mqar_batch, run_capacity, summary


def test_batch_layout():
    """Context = D (key, value) pairs; every query repeats one context key; its target is that key's value."""
    B, L, D, V = 8, 40, 6, 32
    x, y = mqar_batch(B, L, D, V, rng=0)
    assert x.shape == y.shape == (B, L) and x.dtype == y.dtype == torch.int64
    for b in range(B):
        keys, values = x[b, 0:2 * D:2].tolist(), x[b, 1:2 * D:2].tolist()
        assert len(set(keys)) == D                                     # distinct keys
        assert all(1 <= k < V // 2 for k in keys) and all(V // 2 <= v < V for v in values)
        store = dict(zip(keys, values))
        q_pos = (y[b] != IGNORE).nonzero().flatten().tolist()
        assert len(q_pos) == D and min(q_pos) >= 2 * D                 # D queries, all after the context
        assert sorted(x[b, q_pos].tolist()) == sorted(keys)            # each key asked once
        for p in q_pos:
            assert y[b, p].item() == store[x[b, p].item()]
        others = [p for p in range(2 * D, L) if p not in q_pos]
        assert (x[b, others] == 0).all()                               # filler elsewhere


def test_batch_is_seeded_and_power_law():
    a, _ = mqar_batch(4, 64, 8, rng=3)
    b, _ = mqar_batch(4, 64, 8, rng=3)
    assert torch.equal(a, b)
    _, y = mqar_batch(400, 64, 4, rng=1)                               # 24 slots; p(gap) ∝ gap^(-0.9)
    gaps = ((y != IGNORE).nonzero()[:, 1] - 8) // 2
    assert (gaps < 12).float().mean() > 0.6                            # uniform would give ~0.5 (0.77 expected)


def test_batch_errors():
    with pytest.raises(ValueError, match="seq_len must be >= 4"):
        mqar_batch(2, 30, 8)
    with pytest.raises(ValueError, match="vocab_size must be >="):
        mqar_batch(2, 64, 16, vocab_size=20)


@pytest.mark.parametrize("kind", MIXERS)
def test_models_forward_and_causal(kind):
    torch.manual_seed(0)
    model = MQARModel(kind, vocab_size=32, d_model=16, n_heads=2)
    x, _ = mqar_batch(2, 24, 4, 32, rng=0)
    logits = model(x)
    assert logits.shape == (2, 24, 32) and torch.isfinite(logits).all()
    x2 = x.clone()
    x2[:, 20:] = 5                                                     # change the future only
    assert torch.allclose(model(x2)[:, :20], logits[:, :20], atol=1e-5)


def test_state_sizes():
    assert MQARModel("delta", d_model=32, n_heads=2).mixers[0].state_size(64) == 2 * 16 * 16
    assert MQARModel("softmax", d_model=32, n_heads=2).mixers[0].state_size(64) == 2 * 64 * 32


def test_d_head_sets_the_state_only():
    small, big = (MQARModel("linear", vocab_size=32, d_model=32, n_heads=1, d_head=w) for w in (4, 16))
    assert small.mixers[0].state_size(32) == 16 and big.mixers[0].state_size(32) == 256
    assert small.emb.weight.shape == big.emb.weight.shape == (32, 32)          # the rest of the model is the same
    assert small.mixers[0].qkv.weight.shape == (3 * 4, 32) and small.mixers[0].out.weight.shape == (32, 4)
    with pytest.raises(ValueError, match="d_head"):
        MQARModel("linear", d_head=0)


def test_gaps_follow_the_power_law():
    """Gumbel top-k gaps: P(first query in gap g) for D = 1 equals p(g) ∝ g^(alpha - 1) (8000 draws, 5 SE)."""
    _, y = mqar_batch(8000, 12, 1, 8, alpha=0.1, rng=2)          # 5 slots
    gaps = ((y != IGNORE).nonzero()[:, 1] - 2) // 2
    p = torch.arange(1, 6, dtype=torch.float64) ** -0.9
    p /= p.sum()
    freq = torch.bincount(gaps, minlength=5).double() / 8000
    assert (freq - p).abs().max() < 5 * (p * (1 - p) / 8000).sqrt().max()


def test_run_capacity_tiny_learns_something():
    """40 steps of softmax on D = 2: the loss falls below ln(32), the untrained model's (uniform over the
    vocabulary); recall itself takes more steps (notebook 09)."""
    rows = run_capacity(("softmax",), (8,), [0, 1], num_kv_pairs=2, d_model=16, n_heads=1, steps=40, seq_len=16,
                        batch_size=16, vocab_size=32)
    assert len(rows) == 2 and all(0.0 <= r["accuracy"] <= 1.0 for r in rows)
    assert all(r["final_loss"] < math.log(32) - 0.3 for r in rows)
    s = summary(rows)
    accs = [r["accuracy"] for r in rows]
    assert s == {"softmax": {8: (sum(accs) / 2, min(accs), max(accs), 2)}}
    assert "softmax" in format_summary(rows)
    with pytest.raises(ValueError, match="seeds"):
        run_capacity(("softmax",), (8,), [])
