"""Decoding throughput on this CPU: python -m benchmarks.mqar_decoding [--out FILE]

Tokens per second of linattn_edu.decoding.decode_recurrent (elu+1 linear attention, constant state) and
decode_kv_cache (causal softmax, growing cache), d = 64, float64, one thread, best of 3, for several
context lengths n; stored with command, date and machine (notebook 09 reads it).
"""
import argparse
import datetime
import json
import sys

import torch

from linattn_edu import decoding, mqar
from linattn_edu import torch as lt


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="benchmarks/results/mqar-decoding.json")
    p.add_argument("--lengths", type=int, nargs="*", default=[256, 1024, 4096, 16384])
    p.add_argument("--d", type=int, default=64)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for n in args.lengths:
        rec = decoding.tokens_per_second(decoding.decode_recurrent, n, args.d, phi=lt.elu_plus_one)
        kv = decoding.tokens_per_second(decoding.decode_kv_cache, n, args.d)
        rows.append(dict(n=n, d=args.d, recurrent_tokens_per_s=rec, kv_cache_tokens_per_s=kv,
                         recurrent_floats=args.d * args.d + args.d, kv_cache_floats=2 * n * args.d))
        print(rows[-1], flush=True)
    meta = {"command": "python -m benchmarks.mqar_decoding " + " ".join(sys.argv[1:] if argv is None else argv),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": mqar.machine(), "threads": 1, "dtype": "float64", "rows": rows}
    with open(args.out, "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
