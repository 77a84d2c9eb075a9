"""Train the small byte-level softmax LM of notebook 11 on the Python standard library's own source.

    python -m benchmarks.train_lm                      # the committed model (models/stdlib_lm/)
    python -m benchmarks.train_lm --steps 5 --d-model 16 --n-layers 1 --out /tmp/lm   # a smoke test

Corpus: the sorted top-level ``Lib/*.py`` files of the running Python (no download); every 10th file
is validation (``linattn_edu.lm.corpus``). Training batches are random windows drawn with a seeded
torch.Generator; the model is initialised from ``torch.manual_seed(--seed)``. Writes, into --out,

    weights.pt      the state_dict (float32)
    val_slice.bin   VAL_SLICE evenly spaced validation windows (n_ctx + 1 bytes each), so the stored
                    loss can be checked on any machine, whatever its Python ships
    meta.json       command, date, machine, torch version, config, training time, losses, file lists

Uses --threads torch threads (default 2: the course VM has 2 cores).
"""
import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import sys
import time

import torch
from torch.nn import functional as F

from linattn_edu import lm

VAL_SLICE = 256          # windows stored with the weights (33 kB at n_ctx = 128)
VAL_FULL = 2048          # windows of the full validation score (evenly spaced over the validation files)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    d = lm.LMConfig.DEFAULTS
    p.add_argument("--n-layers", type=int, default=d["n_layers"])
    p.add_argument("--d-model", type=int, default=d["d_model"])
    p.add_argument("--n-heads", type=int, default=d["n_heads"])
    p.add_argument("--n-ctx", type=int, default=d["n_ctx"])
    p.add_argument("--steps", type=int, default=2500)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--val-slice", type=int, default=VAL_SLICE)
    p.add_argument("--val-full", type=int, default=VAL_FULL)
    p.add_argument("--stdlib", default=None, help="directory of the corpus (default: the running Python's Lib/)")
    p.add_argument("--out", default=str(lm.MODEL_DIR))
    return p.parse_args(argv)


def lr_at(step, args):
    """Linear warm-up, then cosine decay to 10 % of --lr."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()} ({cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()})"


def train(args):
    torch.set_num_threads(args.threads)
    cfg = lm.LMConfig(n_layers=args.n_layers, d_model=args.d_model, n_heads=args.n_heads, n_ctx=args.n_ctx)
    train_bytes, train_files = lm.corpus("train", args.stdlib)
    val_bytes, val_files = lm.corpus("val", args.stdlib)
    train_arr = torch.frombuffer(bytearray(train_bytes), dtype=torch.uint8)
    val_slice = lm.windows(val_bytes, cfg.n_ctx, args.val_slice)
    val_full = lm.windows(val_bytes, cfg.n_ctx, args.val_full)

    torch.manual_seed(args.seed)
    model = lm.ByteLM(cfg)
    gen = torch.Generator().manual_seed(args.seed)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    history, t0 = [], time.perf_counter()
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args)
        batch = lm.random_windows(train_arr, cfg.n_ctx, args.batch_size, gen)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, cfg.vocab), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            model.eval()
            v = lm.loss_on(model, val_slice)
            model.train()
            history.append(dict(step=step + 1, train_loss=round(loss.item(), 4), val_slice_loss=round(v, 4),
                                seconds=round(time.perf_counter() - t0, 1)))
            print(json.dumps(history[-1]), flush=True)
    train_seconds = time.perf_counter() - t0
    model.eval()
    return model, cfg, dict(train_seconds=round(train_seconds, 1), history=history,
                            val_slice=val_slice, val_slice_loss=lm.loss_on(model, val_slice),
                            val_loss=lm.loss_on(model, val_full), train_files=train_files, val_files=val_files,
                            train_bytes=len(train_bytes), val_bytes=len(val_bytes))


def main(argv=None):
    args = parse(argv)
    model, cfg, res = train(args)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "weights.pt")
    raw = res.pop("val_slice").numpy().tobytes()
    (out / "val_slice.bin").write_bytes(raw)
    meta = dict(
        command="python -m benchmarks.train_lm " + " ".join(argv if argv is not None else sys.argv[1:]),
        args=vars(args), config=dict(cfg),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        machine=machine(), torch=torch.__version__, python=platform.python_version(),
        n_params=lm.n_params(model), threads=args.threads,
        val_slice_windows=args.val_slice, val_slice_sha256=lm.sha256(raw),
        val_full_windows=args.val_full,
        note=("val_loss: mean next-byte cross-entropy in nats over val_full_windows evenly spaced windows of the "
              "validation files; val_slice_loss: the same on the stored val_slice.bin (what the tests re-check)"),
        **res)
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {out}: val_loss {meta['val_loss']:.4f} nats/byte, val_slice_loss {meta['val_slice_loss']:.6f}, "
          f"{meta['train_seconds']} s")
    return meta


if __name__ == "__main__":
    main()
