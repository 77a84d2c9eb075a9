"""Notebook 09's FULL = True run, stored: python -m benchmarks.mqar_capacity [--out FILE] [--threads 1]

Trains mqar.FULL_CONFIG (every mixer, d_head in 2..16, three seeds, equal budgets) with the seeds the
notebook uses at LINATTN_SEED = 0 and writes the rows with command, date and machine after every model,
so an interrupted run keeps what it measured.
"""
import argparse
import datetime
import json
import sys
import time

from linattn_edu import mqar
from linattn_edu.seeds import seed


def config_seeds(config):
    """The seeds notebook 09 uses for its models (the same stream names)."""
    return [seed(f"mqar-model-{i}") for i in range(config["n_seeds"])]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="benchmarks/results/mqar-capacity-full.json")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    config = mqar.FULL_CONFIG
    train = {k: v for k, v in config.items() if k not in ("runs", "n_seeds")}
    meta = {"command": "python -m benchmarks.mqar_capacity " + " ".join(sys.argv[1:] if argv is None else argv),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": mqar.machine(), "threads": args.threads, "seeds": config_seeds(config),
            "config": {k: [list(r) for r in v] if k == "runs" else v for k, v in config.items()}, "rows": []}
    t0 = time.perf_counter()

    def save(row):
        print(f"{row['kind']:10s} d_head={row['d_head']:3d} seed={row['seed']} acc={row['accuracy']:.3f} "
              f"({row['seconds']:.0f} s)", flush=True)
        meta["rows"].append(row)
        meta["wall_seconds"] = round(time.perf_counter() - t0, 1)
        with open(args.out, "w") as f:
            json.dump(meta, f, indent=1)

    for kind, d_heads in config["runs"]:
        mqar.run_capacity((kind,), d_heads, meta["seeds"], threads=args.threads, progress=save, **train)
    print(mqar.format_summary(meta["rows"]))


if __name__ == "__main__":
    main()
