"""linattn_edu.hybrid: the layer choice, the per-layer attention, the decoder-memory formula against the
tensors a decoder keeps (and that they suffice to continue a sequence), and the MQAR hybrid's training."""
import itertools

import numpy as np
import pytest
import torch

from linattn_edu import audit, hybrid, lm, mqar
from linattn_edu import torch as lt

CFG = dict(n_layers=3, d_model=8, n_heads=2, n_ctx=16)
D_HEAD = CFG["d_model"] // CFG["n_heads"]


def tiny_model():
    torch.manual_seed(0)
    model = lm.ByteLM(CFG)
    with torch.no_grad():                       # larger weights than the 0.02 init, so layers differ visibly
        for p in model.parameters():
            if p.ndim == 2:
                p.mul_(20.0)
    return model.double().eval()


def idx(n, seed=0):
    return torch.randint(0, 256, (2, n), generator=torch.Generator().manual_seed(seed))


def test_softmax_layers_picks_the_most_harmed():
    assert hybrid.softmax_layers([0.1, 2.0, 0.5, 1.0], 2) == [1, 3]
    assert hybrid.softmax_layers([0.1, 2.0, 0.5, 1.0], 0) == []
    assert hybrid.softmax_layers([0.1, 2.0, 0.5, 1.0], 4) == [0, 1, 2, 3]
    assert hybrid.softmax_layers([1.0, 1.0, 0.0], 1) == [0]                 # ties: the lower layer
    with pytest.raises(ValueError, match="k must be an integer in"):
        hybrid.softmax_layers([1.0, 2.0], 3)
    with pytest.raises(ValueError, match="harm must be one number per layer"):
        hybrid.softmax_layers(np.ones((2, 2)), 1)


def test_hybrid_attention_is_softmax_on_kept_layers_and_the_map_elsewhere():
    model, x = tiny_model(), idx(12)
    with torch.no_grad():
        ref = model(x)
        torch.testing.assert_close(model(x, hybrid.hybrid_attention(3, [0, 1, 2], lt.elu_plus_one)), ref)
        elu = audit.method_attention("elu+1")
        torch.testing.assert_close(model(x, hybrid.hybrid_attention(3, [], lt.elu_plus_one)), model(x, elu))
        torch.testing.assert_close(model(x, hybrid.hybrid_attention(3, [2], lt.elu_plus_one)),
                                   model(x, [elu, elu, None]))
        # a list of maps: layer l uses phis[l]; the kept layer's entry is ignored
        mixed = hybrid.hybrid_attention(3, [1], [lt.elu_plus_one, None, lt.relu_features])
        relu = lambda q, k, v: lt.kernel_attention(q, k, v, lt.relu_features, causal=True)
        torch.testing.assert_close(model(x, mixed), model(x, [elu, None, relu]))
        assert not torch.allclose(model(x, [elu, None, relu]), model(x, [elu, None, elu]))
    with pytest.raises(ValueError, match="keep must list layers in"):
        hybrid.hybrid_attention(3, [3], lt.elu_plus_one)
    with pytest.raises(ValueError, match="phi must be one feature map or a list of 3"):
        hybrid.hybrid_attention(3, [], [lt.elu_plus_one])


@pytest.mark.parametrize("phi_name", ["elu+1", "hedgehog", "taylor"])
def test_cache_floats_is_the_size_of_the_tensors(phi_name):
    model = tiny_model()
    phi, m = {"elu+1": (lt.elu_plus_one, D_HEAD),
              "hedgehog": (list(lm.hedgehog_maps(model).double()), 2 * D_HEAD),
              "taylor": (lt.taylor_features, 1 + D_HEAD + D_HEAD ** 2)}[phi_name]
    for k in range(4):
        for keep in itertools.combinations(range(3), k):
            for n in (1, 7, 16):
                x = idx(n, seed=n)
                logits, caches = hybrid.cache_tensors(model, x, keep, phi)
                actual = sum(t[0].numel() for c in caches for t in c)            # one sequence of the batch
                assert actual == hybrid.cache_floats(model.cfg, keep, n, m), (keep, n)
                for l, c in enumerate(caches):                                   # the right tensors per layer
                    shapes = [tuple(t.shape) for t in c]
                    assert shapes == ([(2, 2, n, D_HEAD)] * 2 if l in keep else [(2, 2, m, D_HEAD), (2, 2, m)])
                with torch.no_grad():                                            # recurrent form == quadratic form
                    torch.testing.assert_close(logits, model(x, hybrid.hybrid_attention(3, keep, phi)))
    # the formula by hand for one case: layer 0 softmax at n = 10 -> 2*10*2*4 + 2 * 2*(m*4 + m)
    assert hybrid.cache_floats(model.cfg, [0], 10, m) == 160 + 2 * 2 * (m * D_HEAD + m)
    np.testing.assert_array_equal(hybrid.cache_floats(model.cfg, [0, 2], np.array([0, 5])),
                                  np.array([0, 2 * 2 * 5 * 2 * D_HEAD]) + 2 * (D_HEAD * D_HEAD + D_HEAD))
    with pytest.raises(ValueError, match="n must be >= 0"):
        hybrid.cache_floats(model.cfg, [0], -1)


def test_the_cache_is_enough_to_continue():
    """What cache_tensors returns is what a decoder needs: token n+1 from the cache alone equals the full run."""
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(1, 2, 9, 4, generator=g, dtype=torch.float64) for _ in range(3))
    full_lin = lt.kernel_attention(q, k, v, lt.elu_plus_one, causal=True)
    _, state = lt.recurrent_linear_attention(q[..., :8, :], k[..., :8, :], v[..., :8, :], lt.elu_plus_one)
    nxt, _ = lt.recurrent_linear_attention(q[..., 8:, :], k[..., 8:, :], v[..., 8:, :], lt.elu_plus_one, state=state)
    torch.testing.assert_close(nxt[..., 0, :], full_lin[..., 8, :])
    full_soft = lt.softmax_attention(q, k, v, causal=True)
    K, V = k[..., :8, :], v[..., :8, :]                                          # the KV cache after 8 tokens
    step = lt.softmax_attention(q[..., 8:, :], torch.cat([K, k[..., 8:, :]], -2), torch.cat([V, v[..., 8:, :]], -2))
    torch.testing.assert_close(step[..., 0, :], full_soft[..., 8, :])


def test_hybrid_mqar_model_is_mqar_model_when_kinds_agree():
    kw = dict(vocab_size=16, d_model=8, n_heads=2, seq_len=16, steps=3, batch_size=4, eval_size=8, seed=5)
    for kind in ("softmax", "linear"):
        ref = mqar.train_mqar(kind, 3, n_layers=2, **kw)
        got = hybrid.train_mqar_hybrid((kind, kind), 3, **kw)
        assert got["final_loss"] == ref["final_loss"] and got["accuracy"] == ref["accuracy"], kind
    model = hybrid.HybridMQARModel(("softmax", "linear", "delta"), vocab_size=16, d_model=8, n_heads=2)
    assert [m.kind for m in model.mixers] == ["softmax", "linear", "delta"]
    assert model(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 5, 16)
    r = hybrid.train_mqar_hybrid(("softmax", "linear"), 3, **kw)
    assert r["state_size"] == 2 * 16 * 2 * 4 + 2 * 4 * 4 and 0 <= r["accuracy"] <= 1
    with pytest.raises(ValueError, match="kinds must be a non-empty list"):
        hybrid.HybridMQARModel(("softmax", "mamba"))
