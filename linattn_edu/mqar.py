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
all from ``linattn_edu.torch``, d_h = d_model / n_heads per head:

    softmax      causal softmax attention: its "state" is the whole KV cache, growing with n
    linear       elu(x) + 1 features, normalised (Katharopoulos et al. 2020): state d_h x d_h per head
    performer    positive random features exp(w.x - |x|^2/2), m = d_h (fixed, not redrawn): d_h x d_h per head
    decay        S_t = a_t S_{t-1} + k_t v_t^T, a_t = sigmoid(.) per head and token (data-dependent, Mamba-2 like)
    delta        S_t = (I - b_t k_t k_t^T) S_{t-1} + b_t k_t v_t^T, b_t = sigmoid(.) (DeltaNet)

decay and delta use L2-normalised q and k (as DeltaNet does), so both update rules see the same keys.

``run_mqar`` trains one model per (mixer, D) and returns the recall accuracy table. Everything is
seeded (numpy Generator for data, torch.manual_seed for weights) and runs on the CPU.
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
    p = np.arange(1, slots + 1, dtype=float) ** (alpha - 1)
    p /= p.sum()
    for b in range(batch_size):
        gaps = rng.choice(slots, size=D, replace=False, p=p)                          # where the D queries go
        order = rng.permutation(D)                                                    # which key is asked where
        pos = 2 * D + 2 * gaps
        inputs[b, pos] = keys[b, order]
        targets[b, pos] = values[b, order]
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

    def __init__(self, kind, d_model, n_heads, chunk_size=16):
        super().__init__()
        if kind not in MIXERS:
            raise ValueError(f"kind must be one of {MIXERS} (got {kind!r})")
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.kind, self.h, self.d_h, self.chunk_size = kind, n_heads, d_model // n_heads, chunk_size
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
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

    def __init__(self, kind, vocab_size=64, d_model=32, n_heads=2, n_layers=1, chunk_size=16):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, d_model)
        self.conv = nn.Conv1d(d_model, d_model, kernel_size=3, groups=d_model, padding=2)
        self.mixers = nn.ModuleList(Mixer(kind, d_model, n_heads, chunk_size) for _ in range(n_layers))
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
               lr=1e-2, vocab_size=64, seed=0, eval_size=256):
    """Train one model on fresh MQAR batches; return dict(kind, num_kv_pairs, d_model, state_size, accuracy, seconds)."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = MQARModel(kind, vocab_size, d_model, n_heads, n_layers)
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
    return dict(kind=kind, num_kv_pairs=int(num_kv_pairs), d_model=d_model, n_heads=n_heads, seq_len=seq_len, seed=seed,
                state_size=model.mixers[0].state_size(seq_len), steps=steps, final_loss=float(loss.detach()),
                accuracy=accuracy(model, *test), seconds=time.perf_counter() - t0)


def run_mqar(mixers=MIXERS, num_kv_pairs_list=(4, 8, 16), d_model=32, steps=200, seed=0, seq_len=64,
             n_heads=2, n_layers=1, batch_size=64, lr=1e-2, vocab_size=64, threads=1, progress=None):
    """Train every (mixer, D, d_model) combination; return a list of result dicts (one row each).

    d_model may be an int or a list (a state-size sweep). progress: None, or a callable(row) called
    after each run (e.g. print), so the caller decides how to report. torch threads are set to
    `threads` for the run and restored after.
    """
    widths = [d_model] if isinstance(d_model, int) else list(d_model)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        for width in widths:
            for D in num_kv_pairs_list:
                for kind in mixers:
                    row = train_mqar(kind, D, seq_len=seq_len, d_model=width, n_heads=n_heads, n_layers=n_layers,
                                     steps=steps, batch_size=batch_size, lr=lr, vocab_size=vocab_size, seed=seed)
                    rows.append(row)
                    if progress is not None:
                        progress(row)
    finally:
        torch.set_num_threads(old)
    return rows


def table(rows, by="num_kv_pairs"):
    """{kind: {by-value: accuracy}} from run_mqar's rows (for plotting and asserts)."""
    out = {}
    for r in rows:
        out.setdefault(r["kind"], {})[r[by]] = r["accuracy"]
    return out


def format_table(rows, by="num_kv_pairs"):
    """A plain-text table: one line per mixer, one column per value of `by`."""
    t = table(rows, by)
    cols = sorted({c for v in t.values() for c in v})
    lines = [f"{'mixer':10s}" + "".join(f"{by}={c:<6}" if False else f"{str(c):>8s}" for c in cols) + f"   ({by})"]
    for kind, accs in t.items():
        lines.append(f"{kind:10s}" + "".join(f"{accs.get(c, math.nan):8.3f}" for c in cols))
    return "\n".join(lines)


# The notebook's default run (about 1 minute of training on an idle 2-core CPU) and the longer stored run.
DEFAULT_CONFIG = dict(mixers=MIXERS, num_kv_pairs_list=(4, 8, 16), d_model=32, steps=300, batch_size=32, seq_len=64)
FULL_CONFIG = [  # a sweep over D at d_model = 32, over the state size (d_model) at D = 16, then D > d_k at n = 128
    dict(mixers=MIXERS, num_kv_pairs_list=(4, 8, 12, 16), d_model=32, steps=600, batch_size=64, seq_len=64),
    dict(mixers=MIXERS, num_kv_pairs_list=(16,), d_model=(16, 64), steps=600, batch_size=64, seq_len=64),
    dict(mixers=MIXERS, num_kv_pairs_list=(24, 30), d_model=32, steps=600, batch_size=64, seq_len=128),
]


def _machine():
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


def main(argv=None):
    """python -m linattn_edu.mqar [--full] --out results.json: run a configuration, store rows + provenance."""
    import argparse
    import datetime
    import json
    import sys
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--full", action="store_true", help="FULL_CONFIG instead of DEFAULT_CONFIG")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--parts", type=int, nargs="*", help="with --full: run only these entries of FULL_CONFIG")
    p.add_argument("--mixers", nargs="*", choices=MIXERS, help="run only these mixers")
    p.add_argument("--seeds", type=int, nargs="*", default=[0], help="one run per seed (data and weights)")
    args = p.parse_args(argv)
    configs = FULL_CONFIG if args.full else [DEFAULT_CONFIG]
    if args.full and args.parts:
        configs = [FULL_CONFIG[i] for i in args.parts]
    if args.mixers:
        configs = [dict(c, mixers=tuple(args.mixers)) for c in configs]
    meta = {"command": "python -m linattn_edu.mqar " + " ".join(sys.argv[1:] if argv is None else argv),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": _machine(), "threads": args.threads, "seeds": args.seeds,
            "configs": [{k: list(v) if isinstance(v, tuple) else v for k, v in c.items()} for c in configs]}
    t0 = time.perf_counter()
    meta["rows"] = []

    def save(row):                          # after every model, so an interrupted run keeps what it measured
        print(f"{row['kind']:10s} D={row['num_kv_pairs']:3d} d_model={row['d_model']:4d} "
              f"acc={row['accuracy']:.3f} ({row['seconds']:.0f} s)", flush=True)
        meta["rows"].append(row)
        meta["wall_seconds"] = round(time.perf_counter() - t0, 1)
        with open(args.out, "w") as f:
            json.dump(meta, f, indent=1)

    for seed in args.seeds:
        for config in configs:
            run_mqar(**config, seed=seed, threads=args.threads, progress=save)
    rows = meta["rows"]
    print(format_table([r for r in rows if r["d_model"] == 32]))


if __name__ == "__main__":
    main()
