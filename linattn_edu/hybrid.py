"""Hybrid models: k of L layers keep softmax attention, the other L - k are linear (notebook 11, section 5).

Three measurements, three pieces of library:

* **Which layers stay softmax.** ``softmax_layers(harm, k)``: the k layers the audit ranks most harmed
  by the linear map (harm: one number per layer, e.g. the loss increase when the layer's heads are
  swapped one at a time). ``hybrid_attention(L, keep, phi)`` is the per-layer attention list for
  ``lm.ByteLM``: None (softmax) on the kept layers, causal kernel attention with feature map phi elsewhere.

* **What it costs to continue a sequence** (the decoding memory, exact, from shapes). A softmax layer
  keeps every key and value (the KV cache), a linear layer its state S and normaliser z
  (notebook 03's recurrence S_t = S_{t-1} + φ(k_t) v_tᵀ, z_t = z_{t-1} + φ(k_t)):

      M(n) = Σ_{l ∈ keep} 2 n H d_head  +  Σ_{l ∉ keep} H (m d_head + m)        floats per sequence

  with H heads of width d_head and m features of φ (elu+1: m = d_head; Hedgehog: m = 2 d_head).
  Per token, M(n)/n → 2 k H d_head as n grows: the KV caches dominate as soon as n exceeds a few
  hundred here, and k/L of the all-softmax cache is what a k-of-L hybrid keeps. ``cache_floats`` is
  the formula; ``cache_tensors`` runs the model and returns the tensors a decoder would keep (k, v of
  the softmax layers, S, z of the linear ones, the latter from ``recurrent_linear_attention``) so a
  test can compare the formula with actual sizes.

* **Recall** (MQAR, notebook 09's task). ``train_mqar_hybrid(kinds, ...)`` trains
  ``HybridMQARModel``, notebook 09's ``mqar.MQARModel`` with one mixer kind per layer (e.g.
  ("softmax", "linear")), with the same optimiser, schedule and data as ``mqar.train_mqar``.

Glossary: L layers, k = |keep| softmax layers, H heads, d_head per-head width, m feature count of φ,
n context length (tokens so far).
"""
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import mqar
from . import torch as lt

__all__ = ["softmax_layers", "hybrid_attention", "cache_floats", "cache_tensors", "HybridMQARModel",
           "train_mqar_hybrid", "MQAR_TASK", "MQAR_DEFAULT", "MQAR_FULL"]

# Notebook 11's recall experiment: notebook 09's task (15 possible keys, D = 8 pairs, 32 tokens) at the
# width where one linear layer cannot hold every key (d_head = 4: a 4 x 4 state), two layers.
MQAR_TASK = dict(mqar.TASK, d_head=4)
# default (CI): no softmax layer, one (the first), all; one seed each, 200 steps (a few seconds per model)
MQAR_DEFAULT = dict(MQAR_TASK, runs=(("linear", "linear"), ("softmax", "linear"), ("softmax", "softmax")),
                    n_seeds=1, steps=200)
# full (benchmarks/hybrid_mqar.py stores it): the softmax layer first or last too, five seeds, 200 and 400 steps
MQAR_FULL = dict(MQAR_TASK, runs=(("linear", "linear"), ("softmax", "linear"), ("linear", "softmax"),
                                  ("softmax", "softmax")), n_seeds=5, steps=(200, 400))


def softmax_layers(harm, k):
    """The k layers with the largest harm, sorted by layer index (ties: the lower layer first).

    harm: (L,) one number per layer, larger = the linear map hurts this layer more.
    """
    harm = np.asarray(harm, dtype=float)
    if harm.ndim != 1:
        raise ValueError(f"harm must be one number per layer, shape (L,) (got {harm.shape})")
    if not (isinstance(k, (int, np.integer)) and 0 <= k <= len(harm)):
        raise ValueError(f"k must be an integer in [0, L = {len(harm)}] (got k = {k!r})")
    order = np.argsort(-harm, kind="stable")                   # most harmed first
    return sorted(int(l) for l in order[:k])


def _per_layer(phi, n_layers):
    if callable(phi):
        return [phi] * n_layers
    phi = list(phi)
    if len(phi) != n_layers:
        raise ValueError(f"phi must be one feature map or a list of {n_layers} (one per layer), got {len(phi)}")
    return phi


def _check_keep(keep, n_layers):
    keep = sorted(set(int(l) for l in keep))
    if any(not 0 <= l < n_layers for l in keep):
        raise ValueError(f"keep must list layers in [0, {n_layers}) (got {keep})")
    return keep


def hybrid_attention(n_layers, keep, phi):
    """Per-layer attention for lm.ByteLM: None (softmax) for l in keep, else causal kernel attention with phi.

    phi: one feature map (..., n, d) -> (..., n, m) for every linear layer, or a list of L (entries of
    the kept layers are ignored), e.g. the Hedgehog maps of lm.hedgehog_maps.
    """
    keep, phis = _check_keep(keep, n_layers), _per_layer(phi, n_layers)

    def linear(f):
        return lambda q, k, v: lt.kernel_attention(q, k, v, f, causal=True)
    return [None if l in keep else linear(phis[l]) for l in range(n_layers)]


def cache_floats(cfg, keep, n, m=None):
    """M(n): floats a decoder keeps per sequence after n tokens (module docstring), exact from shapes.

    cfg: the model's LMConfig (n_layers, d_model, n_heads); keep: the softmax layers; n: context
    length(s), an int or an array; m: the linear layers' feature count (default d_head, elu+1).
    """
    L, H = cfg["n_layers"], cfg["n_heads"]
    d_head = cfg["d_model"] // H
    m = d_head if m is None else int(m)
    n = np.asarray(n)
    if np.any(n < 0):
        raise ValueError(f"n must be >= 0 tokens (got {n})")
    k = len(_check_keep(keep, L))
    return k * 2 * n * H * d_head + (L - k) * H * (m * d_head + m)


def cache_tensors(model, idx, keep, phi):
    """Run model on idx: (B, n) with the hybrid (keep, phi); return (logits, caches) where caches[l] is
    the tuple of tensors layer l keeps to continue the sequence: (k, v) each (B, H, n, d_head) for a
    softmax layer, (S, z) of shapes (B, H, m, d_head), (B, H, m) for a linear one (the recurrent form's
    final state; the logits are computed with it, so they equal the quadratic form's up to rounding)."""
    L = model.cfg.n_layers
    keep, phis = _check_keep(keep, L), _per_layer(phi, L)
    caches = [None] * L

    def recorder(l):
        def f(q, k, v):
            if l in keep:
                caches[l] = (k, v)
                return lt.softmax_attention(q, k, v, causal=True)
            out, (S, z) = lt.recurrent_linear_attention(q, k, v, phis[l])
            caches[l] = (S, z)
            return out
        return f
    with torch.no_grad():
        logits = model(idx, [recorder(l) for l in range(L)])
    return logits, caches


# ---------------------------------------------------------------- MQAR with one mixer kind per layer

class HybridMQARModel(mqar.MQARModel):
    """mqar.MQARModel with layer l's mixer of kind kinds[l]; built in the same order as MQARModel, so with
    every kind equal it is the same model, weight for weight, under the same torch seed."""

    def __init__(self, kinds, vocab_size=64, d_model=32, n_heads=2, chunk_size=16, d_head=None):
        nn.Module.__init__(self)
        kinds = list(kinds)
        if not kinds or any(k not in mqar.MIXERS for k in kinds):
            raise ValueError(f"kinds must be a non-empty list of {mqar.MIXERS} (got {kinds})")
        n_layers = len(kinds)
        self.emb = nn.Embedding(vocab_size, d_model)
        self.conv = nn.Conv1d(d_model, d_model, kernel_size=3, groups=d_model, padding=2)
        self.mixers = nn.ModuleList(mqar.Mixer(k, d_model, n_heads, chunk_size, d_head) for k in kinds)
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(),
                                                nn.Linear(2 * d_model, d_model)) for _ in range(n_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(2 * n_layers + 1))
        self.head = nn.Linear(d_model, vocab_size)


def train_mqar_hybrid(kinds, num_kv_pairs, seq_len=64, d_model=32, n_heads=2, steps=200, batch_size=64,
                      lr=1e-2, vocab_size=64, seed=0, eval_size=256, d_head=None):
    """Train HybridMQARModel(kinds) on fresh MQAR batches exactly as mqar.train_mqar trains one kind.

    Returns dict(kinds, accuracy, state_size (floats per sequence, all layers), seed, steps, seconds).
    """
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = HybridMQARModel(kinds, vocab_size, d_model, n_heads, d_head=d_head)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    for _ in range(steps):
        inputs, targets = mqar.mqar_batch(batch_size, seq_len, num_kv_pairs, vocab_size, rng=rng)
        loss = F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten(), ignore_index=mqar.IGNORE)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    test = mqar.mqar_batch(eval_size, seq_len, num_kv_pairs, vocab_size, rng=np.random.default_rng(10_000 + seed))
    return dict(kinds=list(kinds), num_kv_pairs=int(num_kv_pairs), seq_len=seq_len, seed=seed, steps=steps,
                state_size=sum(m.state_size(seq_len) for m in model.mixers), final_loss=float(loss.detach()),
                accuracy=mqar.accuracy(model, *test), seconds=time.perf_counter() - t0)
