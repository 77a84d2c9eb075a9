"""Notebook 11's hybrid recall run, stored: python -m benchmarks.hybrid_mqar [--out FILE] [--threads 1]

Trains hybrid.MQAR_FULL (two-layer MQAR models with no, one (first or last) or two softmax layers, the
rest elu+1 linear attention; five seeds; 200 and 400 steps) with the seeds notebook 11 uses at
LINATTN_SEED = 0 (streams nb11/mqar/0..4) and writes the rows with command, date and machine after every
model, so an interrupted run keeps what it measured.
"""
import argparse
import datetime
import json
import sys
import time

import torch

from linattn_edu import hybrid, mqar
from linattn_edu.seeds import seed


def config_seeds(config):
    """The seeds notebook 11 uses for its models (the same stream names)."""
    return [seed(f"nb11/mqar/{i}") for i in range(config["n_seeds"])]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="benchmarks/results/hybrid-mqar.json")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = hybrid.MQAR_FULL
    train = {k: v for k, v in config.items() if k not in ("runs", "n_seeds", "steps")}
    meta = {"command": "python -m benchmarks.hybrid_mqar " + " ".join(sys.argv[1:] if argv is None else argv),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": mqar.machine(), "threads": args.threads, "seeds": config_seeds(config),
            "config": {k: [list(r) for r in v] if k == "runs" else v for k, v in config.items()}, "rows": []}
    t0 = time.perf_counter()
    for steps in config["steps"]:
        for kinds in config["runs"]:
            for s in meta["seeds"]:
                row = hybrid.train_mqar_hybrid(kinds, seed=s, steps=steps, **train)
                print(f"{'+'.join(kinds):16s} steps={steps} seed={s} acc={row['accuracy']:.3f} ({row['seconds']:.0f} s)",
                      flush=True)
                meta["rows"].append(row)
                meta["wall_seconds"] = round(time.perf_counter() - t0, 1)
                with open(args.out, "w") as f:
                    json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
