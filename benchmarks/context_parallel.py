"""Context parallelism measured: time and peak memory per device against sequence length and P.

    python -m benchmarks.context_parallel --device cuda --P 1,2 --T 65536,262144,1048576 --out results.json
    python -m benchmarks.context_parallel --device cpu --P 2 --T 256 --H 2    # smoke test (gloo)

For each P (processes, one GPU each, NCCL; gloo on the CPU) and total length T, every rank holds T / P
tokens of q, k, v (B = 1, H heads, D = 64, bf16 on a GPU) and runs ``parallel.chunked_linear_attention``
(elu+1, chunk 64) forward and backward. Reported per (P, T, method): median fwd+bwd ms, the same for the
local form alone on the slice with a state handed in (no communication), their difference as the
communication share, and peak memory per device (torch.cuda.max_memory_allocated, inputs included).
``--max-T`` doubles T on P = 1 until out of memory: the longest sequence one device holds.
"""
import argparse
import datetime
import json
import platform
import statistics
import time

import torch
import torch.distributed as dist

from linattn_edu.torch import parallel
from linattn_edu.torch.causal import chunked_linear_attention
from linattn_edu.torch.feature_maps import elu_plus_one


def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def _time(fn, device, repeats):
    fn()                                                      # warm-up
    times = []
    for _ in range(repeats):
        _sync(device)
        if dist.is_initialized():
            dist.barrier()
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _inputs(T_local, H, D, device, dtype, seed):
    g = torch.Generator(device=device).manual_seed(seed)
    make = lambda: (torch.randn(1, H, T_local, D, generator=g, device=device, dtype=dtype) * 0.5).requires_grad_(True)
    return make(), make(), make()


def measure(rank, P, Ts, H, D, device, dtype_name, repeats, methods):
    dtype = getattr(torch, dtype_name)
    dev = f"cuda:{rank}" if device == "cuda" else "cpu"
    rows = []
    for T in Ts:
        T_local = T // P
        for method in methods:
            try:
                q, k, v = _inputs(T_local, H, D, dev if device == "cuda" else "cpu", dtype, seed=rank)
                do = torch.randn_like(v)

                def step():
                    out, (S, z) = parallel.chunked_linear_attention(q, k, v, elu_plus_one, 64, method=method)
                    torch.autograd.grad(out, (q, k, v), do)

                state = (torch.zeros(1, H, D, D, device=q.device), torch.zeros(1, H, D, device=q.device))

                def local():
                    out, _ = chunked_linear_attention(q, k, v, elu_plus_one, 64, state=state)
                    torch.autograd.grad(out, (q, k, v), do)

                if device == "cuda":
                    torch.cuda.reset_peak_memory_stats(dev)
                ms = _time(step, device, repeats)
                peak = torch.cuda.max_memory_allocated(dev) / 2 ** 30 if device == "cuda" else None
                ms_local = _time(local, device, repeats) if P > 1 else ms
                rows.append(dict(P=P, T=T, T_local=T_local, method=method, fwd_bwd_ms=ms, local_ms=ms_local,
                                 comm_share=max(0.0, (ms - ms_local) / ms), peak_gib=peak, rank=rank))
            except torch.cuda.OutOfMemoryError:
                rows.append(dict(P=P, T=T, T_local=T_local, method=method, oom=True, rank=rank))
            finally:
                q = k = v = do = None
                if device == "cuda":
                    torch.cuda.empty_cache()
    return rows


def longest_on_one(device, H, D, dtype_name, start, limit):
    """Double T on one device until fwd+bwd runs out of memory; returns (longest T that ran, first T that did not)."""
    dtype = getattr(torch, dtype_name)
    T, ok = start, None
    while T <= limit:
        try:
            q, k, v = _inputs(T, H, D, device, dtype, 0)
            out, _ = chunked_linear_attention(q, k, v, elu_plus_one, 64)
            torch.autograd.grad(out, (q, k, v), torch.randn_like(v))
            _sync(device)
            ok = T
        except torch.cuda.OutOfMemoryError:
            return ok, T
        finally:
            q = k = v = out = None
            if device == "cuda":
                torch.cuda.empty_cache()
        T *= 2
    return ok, None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--P", default="1,2")
    p.add_argument("--T", default="65536,262144,1048576")
    p.add_argument("--H", type=int, default=16)
    p.add_argument("--D", type=int, default=64)
    p.add_argument("--dtype", default=None)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--methods", default="allgather,ring")
    p.add_argument("--max-T", type=int, default=0, help="also find the longest T on one device, up to this")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    dtype = a.dtype or ("bfloat16" if a.device == "cuda" else "float32")
    backend = "nccl" if a.device == "cuda" else "gloo"
    Ts, methods = [int(t) for t in a.T.split(",")], a.methods.split(",")
    result = {"meta": {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "command": "python -m benchmarks.context_parallel " + " ".join(argv or __import__("sys").argv[1:]),
                       "machine": torch.cuda.get_device_name(0) if a.device == "cuda" else platform.processor() or platform.machine(),
                       "gpus": torch.cuda.device_count() if a.device == "cuda" else 0,
                       "torch": torch.__version__, "dtype": dtype, "H": a.H, "D": a.D, "B": 1}, "rows": []}
    for P in [int(x) for x in a.P.split(",")]:
        per_rank = parallel.spawn(measure, P, Ts, a.H, a.D, a.device, dtype, a.repeats, methods, backend=backend)
        for rows in zip(*per_rank):                               # the same (T, method) on every rank
            worst = dict(rows[0])
            if not any(r.get("oom") for r in rows):
                worst.update(fwd_bwd_ms=max(r["fwd_bwd_ms"] for r in rows), local_ms=max(r["local_ms"] for r in rows),
                             peak_gib=max(r["peak_gib"] or 0 for r in rows) if a.device == "cuda" else None)
                worst["comm_share"] = max(0.0, (worst["fwd_bwd_ms"] - worst["local_ms"]) / worst["fwd_bwd_ms"])
            else:
                worst = dict(P=P, T=rows[0]["T"], method=rows[0]["method"], oom=True)
            worst.pop("rank", None)
            result["rows"].append(worst)
            print(json.dumps(worst), flush=True)
    if a.max_T:
        ok, fail = longest_on_one(a.device, a.H, a.D, dtype, max(Ts), a.max_T)
        result["longest_on_one_device"] = {"ran": ok, "out_of_memory_at": fail}
        print("longest on one device:", result["longest_on_one_device"], flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
