"""Multi-query associative recall (MQAR, Zoology: Arora et al. 2023) and tiny models that try to solve it.

The task. A sequence first lists D key-value pairs, then asks for the keys again:

    k_1 v_1 k_2 v_2 ... k_D v_D | 0 0 k_7 0 k_2 0 0 k_5 ...       (0 = filler token)
                                        ^v_7   ^v_2     ^v_5      targets at the query positions only

Keys come from the lower half of the vocabulary, values from the upper half, drawn fresh for every
sequence, so nothing can be memorised in the weights: the model has to *store* the pairs in its
sequence mixer and *read* them back. The layout follows Zoology's generator (HazyResearch/zoology,
zoology/data/multiquery_ar.py): D queries on even offsets of the query region, gaps g drawn without
replacement with p(g) ∝ g^(alpha - 1). Differences, chosen for a small CPU run: alpha = 0.1 (Zoology's
current default is 0.01, which packs queries even closer to the context), values drawn with
replacement (Zoology: distinct), and filler token 0 between queries (Zoology: random tokens).

The models (same width, same number of steps, same optimiser for every mixer):

    embedding -> short causal depthwise convolution (kernel 3) -> n_layers x [pre-norm mixer + MLP] -> head

The short convolution lets the token at position t see the token at t - 1, so one mixer layer can
associate a value with the key just before it (Based uses one; DeltaNet has one as an option). The mixers,
all from ``linattn_edu.torch``, d_h = d_head per head:

    softmax      causal softmax attention: its "state" is the whole KV cache, growing with n
    linear       elu(x) + 1 features, normalised (Katharopoulos et al. 2020): state d_h x d_h per head
    performer    positive random features exp(w.x - |x|^2/2), m = d_h (fixed, not redrawn): d_h x d_h per head
    decay        S_t = a_t S_{t-1} + k_t v_t^T, a_t = sigmoid(.) per head and token (data-dependent, Mamba-2 like)
    delta        S_t = (I - b_t k_t k_t^T) S_{t-1} + b_t k_t v_t^T, b_t = sigmoid(.) (DeltaNet)

decay and delta use L2-normalised q and k (as DeltaNet does), so both update rules see the same keys.

``run_capacity`` trains one model per (mixer, d_head, seed) with the same budget and returns the rows;
``summary`` gives mean and range over seeds. d_head (= d_k = d_v per head, default d_model / n_heads) sets the
state while the rest of the model stays the same. TASK / DEFAULT_CONFIG / FULL_CONFIG are notebook 09's
capacity-limited experiment (15 possible keys, D = 8). Everything is seeded (numpy Generator for data,
torch.manual_seed for weights) and runs on the CPU.
"""
import functools
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import torch as lt

MIXERS = ("softmax", "linear", "performer", "decay", "delta")
IGNORE = -100


def mqar_batch(batch_size, seq_len, num_kv_pairs, vocab_size=64, alpha=0.1, rng=None):
    """One batch of MQAR sequences.

    Returns (inputs, targets), LongTensors of shape (batch_size, seq_len). targets is IGNORE (-100)
    except at the D query positions, where it is the value stored under the queried key.
    Needs seq_len >= 4 D (the query region holds D queries on every other slot) and
    vocab_size >= 2 D + 2 (D distinct keys and values, token 0 reserved as filler).
    """
    D = int(num_kv_pairs)
    if D < 1:
        raise ValueError(f"num_kv_pairs must be >= 1 (got {num_kv_pairs})")
    if seq_len < 4 * D:
        raise ValueError(f"seq_len must be >= 4 * num_kv_pairs = {4 * D} (got seq_len = {seq_len})")
    half = vocab_size // 2
    if half - 1 < D:
        raise ValueError(f"vocab_size must be >= 2 * num_kv_pairs + 2 = {2 * D + 2} (got vocab_size = {vocab_size})")
    rng = np.random.default_rng(rng)
    keys = np.argsort(rng.random((batch_size, half - 1)), axis=1)[:, :D] + 1          # (B, D) distinct, in [1, half)
    values = rng.integers(half, vocab_size, size=(batch_size, D))                     # (B, D) in [half, vocab)
    inputs = np.zeros((batch_size, seq_len), dtype=np.int64)
    targets = np.full((batch_size, seq_len), IGNORE, dtype=np.int64)
    inputs[:, 0:2 * D:2] = keys
    inputs[:, 1:2 * D:2] = values
    slots = (seq_len - 2 * D) // 2                                                    # query slots, every other token
    log_p = (alpha - 1) * np.log(np.arange(1, slots + 1, dtype=float))            # p(g) ∝ g^(alpha - 1)
    # D gaps without replacement with p(g): the D largest of log p(g) + Gumbel noise (Gumbel top-k, which
    # draws the same distribution as sequential sampling without replacement), every sequence at once
    gumbel = -np.log(-np.log(rng.random((batch_size, slots))))
    gaps = np.argsort(-(log_p + gumbel), axis=1)[:, :D]                             # (B, D) where the queries go
    order = np.argsort(rng.random((batch_size, D)), axis=1)                         # which key is asked where
    rows = np.arange(batch_size)[:, None]
    pos = 2 * D + 2 * gaps
    inputs[rows, pos] = np.take_along_axis(keys, order, axis=1)
    targets[rows, pos] = np.take_along_axis(values, order, axis=1)
    return torch.from_numpy(inputs), torch.from_numpy(targets)


def _performer_features(x, w):
    """Positive random features exp(w_i . x - |x|^2 / 2) / sqrt(m), as lt.positive_features, stabilised by
    subtracting one constant per sequence (its max over tokens and features, not differentiated): a constant
    factor on every phi(q) and phi(k) cancels in the normalised output, so this is the Performer estimator
    of causal softmax attention. (lt.performer_attention computes the same thing in the quadratic-memory
    cumsum form; the chunked form is ~3x faster here.)"""
    expo = x @ w.to(x.dtype).T - 0.5 * (x * x).sum(-1, keepdim=True)            # (B, h, n, m)
    expo = expo - expo.amax(dim=(-2, -1), keepdim=True).detach()
    return torch.exp(expo) / math.sqrt(w.shape[0])


class Mixer(nn.Module):
    """One sequence-mixing layer: q, k, v projections, a mixer from linattn_edu.torch, output projection."""

    def __init__(self, kind, d_model, n_heads, chunk_size=16, d_head=None):
        super().__init__()
        if kind not in MIXERS:
            raise ValueError(f"kind must be one of {MIXERS} (got {kind!r})")
        if d_head is None:
            if d_model % n_heads:
                raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
            d_head = d_model // n_heads
        if int(d_head) < 1:
            raise ValueError(f"d_head must be >= 1 (got {d_head})")
        # d_head = d_k = d_v per head, independent of d_model: the state size can change while the rest
        # of the model (embedding, MLP, head) stays the same
        self.kind, self.h, self.d_h, self.chunk_size = kind, n_heads, int(d_head), chunk_size
        self.qkv = nn.Linear(d_model, 3 * self.h * self.d_h)
        self.out = nn.Linear(self.h * self.d_h, d_model)
        if kind in ("decay", "delta"):
            self.gate = nn.Linear(d_model, n_heads)                    # a_t or beta_t, one per head and token
            if kind == "decay":                                        # start remembering: a = sigmoid(4) = 0.98
                nn.init.constant_(self.gate.bias, 4.0)
        if kind == "performer":                                       # fixed positive random features, m = d_h
            w = lt.gaussian_projection(self.d_h, self.d_h, orthogonal=True, seed=0)
            self.register_buffer("w", w.float())

    def state_size(self, seq_len):
        """Floats the mixer must keep per sequence to continue it (all heads)."""
        if self.kind == "softmax":
            return 2 * seq_len * self.h * self.d_h                    # the KV cache grows with the sequence
        return self.h * self.d_h * self.d_h                            # (+ d_h for the normaliser z: ignored)

    def forward(self, x):                                              # x: (B, n, d_model)
        B, n, _ = x.shape
        q, k, v = self.qkv(x).view(B, n, 3, self.h, self.d_h).permute(2, 0, 3, 1, 4)   # 3 x (B, h, n, d_h)
        if self.kind == "softmax":
            y = lt.softmax_attention(q, k, v, causal=True)
        elif self.kind == "linear":
            y, _ = lt.chunked_linear_attention(q, k, v, "elu_plus_one", chunk_size=self.chunk_size)
        elif self.kind == "performer":
            phi = functools.partial(_performer_features, w=self.w)  # same map for q and k: chunked form applies
            y, _ = lt.chunked_linear_attention(q * self.d_h ** -0.25, k * self.d_h ** -0.25, v, phi,
                                               chunk_size=self.chunk_size)
        else:
            q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
            g = self.gate(x).transpose(1, 2)                           # (B, h, n)
            if self.kind == "decay":
                y, _ = lt.decayed_linear_attention(q, k, v, F.logsigmoid(g), chunk_size=self.chunk_size)
            else:
                y, _ = lt.delta_rule_attention(q, k, v, torch.sigmoid(g), chunk_size=self.chunk_size)
        return self.out(y.transpose(1, 2).reshape(B, n, self.h * self.d_h))


class MQARModel(nn.Module):
    """embedding -> short causal conv -> n_layers x [x + mixer(norm(x)); x + mlp(norm(x))] -> norm -> head."""

    def __init__(self, kind, vocab_size=64, d_model=32, n_heads=2, n_layers=1, chunk_size=16, d_head=None):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, d_model)
        self.conv = nn.Conv1d(d_model, d_model, kernel_size=3, groups=d_model, padding=2)
        self.mixers = nn.ModuleList(Mixer(kind, d_model, n_heads, chunk_size, d_head) for _ in range(n_layers))
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(),
                                                nn.Linear(2 * d_model, d_model)) for _ in range(n_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(2 * n_layers + 1))
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, tokens):                                         # tokens: (B, n) -> logits (B, n, vocab)
        x = self.emb(tokens)                                           # (B, n, d)
        n = x.shape[1]
        x = x + self.conv(x.transpose(1, 2))[..., :n].transpose(1, 2)  # causal: keep the first n outputs
        for i, (mix, mlp) in enumerate(zip(self.mixers, self.mlps)):
            x = x + mix(self.norms[2 * i](x))
            x = x + mlp(self.norms[2 * i + 1](x))
        return self.head(self.norms[-1](x))


def accuracy(model, inputs, targets):
    """Fraction of query positions where the most likely token is the stored value."""
    with torch.no_grad():
        pred = model(inputs).argmax(-1)
    mask = targets != IGNORE
    return float((pred[mask] == targets[mask]).float().mean())


def train_mqar(kind, num_kv_pairs, seq_len=64, d_model=32, n_heads=2, n_layers=1, steps=200, batch_size=64,
               lr=1e-2, vocab_size=64, seed=0, eval_size=256, d_head=None):
    """Train one model on fresh MQAR batches; return dict(kind, num_kv_pairs, d_model, state_size, accuracy, seconds)."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = MQARModel(kind, vocab_size, d_model, n_heads, n_layers, d_head=d_head)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    for _ in range(steps):
        inputs, targets = mqar_batch(batch_size, seq_len, num_kv_pairs, vocab_size, rng=rng)
        loss = F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten(), ignore_index=IGNORE)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    test = mqar_batch(eval_size, seq_len, num_kv_pairs, vocab_size, rng=np.random.default_rng(10_000 + seed))
    return dict(kind=kind, num_kv_pairs=int(num_kv_pairs), d_model=d_model, n_heads=n_heads, d_head=model.mixers[0].d_h, seq_len=seq_len, seed=seed,
                state_size=model.mixers[0].state_size(seq_len), steps=steps, final_loss=float(loss.detach()),
                accuracy=accuracy(model, *test), seconds=time.perf_counter() - t0)


def run_capacity(mixers, d_heads, seeds, num_kv_pairs=8, threads=1, progress=None, **train_kwargs):
    """Train one model per (mixer, d_head, seed), all with the same budget; return the rows (dicts).

    d_head sets the state (n_heads x d_head x d_head floats for the fixed-state mixers) while the rest of the
    model stays the same. seeds: a list of ints (each seeds the weights and the data of one model).
    progress: None or a callable(row), called after each model. torch threads are set to `threads` for
    the run and restored after.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        for kind in mixers:
            for d_head in d_heads:
                for s in seeds:
                    row = train_mqar(kind, num_kv_pairs, d_head=d_head, seed=s, **train_kwargs)
                    rows.append(row)
                    if progress is not None:
                        progress(row)
    finally:
        torch.set_num_threads(old)
    return rows


def summary(rows, by="d_head"):
    """{kind: {by-value: (mean accuracy, min, max, number of seeds)}} over the seeds in rows."""
    groups = {}
    for r in rows:
        groups.setdefault(r["kind"], {}).setdefault(r[by], []).append(r["accuracy"])
    return {kind: {c: (float(np.mean(a)), float(np.min(a)), float(np.max(a)), len(a)) for c, a in sorted(g.items())}
            for kind, g in groups.items()}


def format_summary(rows, by="d_head"):
    """A plain-text table: one line per mixer, one column per value of `by`: mean [min, max] over seeds."""
    s = summary(rows, by)
    cols = sorted({c for v in s.values() for c in v})
    lines = [f"{'mixer':10s}" + "".join(f"{by + ' = ' + str(c):>22s}" for c in cols)]
    for kind, cells in s.items():
        line = f"{kind:10s}"
        for c in cols:
            line += (f"{cells[c][0]:>9.3f} [{cells[c][1]:.2f}, {cells[c][2]:.2f}]" if c in cells else f"{'':>22s}")
        lines.append(line)
    return "\n".join(lines)


# The experiment of notebook 09. The vocabulary of 32 tokens has 15 possible keys (token 0 is filler, keys
# are 1..15, values 16..31); D = 8 pairs per sequence of 32 tokens; one head whose width d_head sets the
# state (d_head x d_head floats). With d_head < 15 the 15 keys cannot all be orthogonal, so a fixed state
# stores them with interference (capacity-limited); with d_head >= 15 they can be. Same model otherwise
# (d_model = 32, one layer), the same steps, batch, learning rate and schedule for every mixer.
TASK = dict(num_kv_pairs=8, seq_len=32, vocab_size=32, d_model=32, n_heads=1, batch_size=32, lr=1e-2)
POSSIBLE_KEYS = TASK["vocab_size"] // 2 - 1
# default (CI): the small state (d_head = 4) and one that can hold every key orthogonally (d_head = 16);
# softmax only at the small width (its memory, the KV cache, does not depend on a fixed state)
DEFAULT_CONFIG = dict(TASK, runs=(("softmax", (4,)), ("linear", (4, 16)), ("delta", (4, 16))), n_seeds=3, steps=200)
# FULL = True: every mixer at four widths, twice the steps (benchmarks/mqar_capacity.py stores it)
FULL_CONFIG = dict(TASK, runs=tuple((kind, (2, 4, 8, 16)) for kind in MIXERS), n_seeds=3, steps=400)


def machine():
    """The machine a measurement ran on (for stored results)."""
    import os
    import platform
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "load_average_at_start": load}
