"""Time the Triton kernels (linattn_edu.kernels) against torch's chunked form and fla, fwd and fwd+bwd.

A quick stand-alone timer. The kernels are also methods of the main harness (`python -m benchmarks.speed
--methods triton_norm,triton_unnorm,...`), which times them in the same process as every other form with
peak memory, float64 errors of out and gradients, and profiles: the stored H200 run of notebooks 10 and 13
(benchmarks/results/h200-2026-12-02.json) comes from there.

    python -m benchmarks.triton_speed                        # GPU: bf16, B=4, H=16, D=64, T = 16k, 32k, 64k
    TRITON_INTERPRET=1 python -m benchmarks.triton_speed --device cpu --dtype float32 --T 64 --B 1 --H 2 --D 16 \
        --reps 2 --err-T 64 --methods triton_norm triton_unnorm torch_chunked --out /tmp/triton_speed.json
                                                             # CPU smoke run through the interpreter (no timing value)

Methods (phi = elu+1 inside every timed call, scale 1, chunk 64):
    triton_norm / triton_unnorm        linattn_edu.kernels.chunked_linear_attention(normalise=True / False)
    torch_chunked                      linattn_edu.torch.chunked_linear_attention (eager, normalised)
    torch_compiled                     compiled_chunked_linear_attention() (normalised)
    torch_unnorm_compiled              chunkwise_fast.compiled("unnormalised_linear_attention")
    fla_norm / fla_unnorm              fla chunk_linear_attn(normalize=True / False), when importable

Times: CUDA events, one warm-up call (compilation and autotuning excluded), L2 flushed before each
repeat, median of --reps. fwd under no_grad; fwd+bwd adds autograd.grad wrt q, k, v. Peak memory:
torch.cuda.max_memory_allocated over one fwd+bwd call. Error: ||out - ref|| / ||ref|| against the
float64 torch mirror on the same rounded inputs at T = --err-T. Memory floor of the forward: bytes
of q, k, v read and o written once at --bandwidth (4.28 TB/s, the H200 copy ceiling in
shared/reference/h200-anchors.md). Writes a table to stdout and JSON (command, date, machine).
"""
import argparse
import datetime
import importlib.metadata
import json
import platform
import statistics
import sys

import torch
import torch.nn.functional as F

from linattn_edu import torch as lt
from linattn_edu.torch import chunkwise_fast as cf
from linattn_edu.torch.causal import compiled_chunked_linear_attention


def methods():
    from linattn_edu.kernels import chunked_linear_attention as tk
    m = {"triton_norm": lambda q, k, v: tk(q, k, v, "elu_plus_one", 64, normalise=True)[0],
         "triton_unnorm": lambda q, k, v: tk(q, k, v, "elu_plus_one", 64, normalise=False)[0],
         "torch_chunked": lambda q, k, v: lt.chunked_linear_attention(q, k, v, "elu_plus_one", 64)[0]}
    comp = compiled_chunked_linear_attention()
    m["torch_compiled"] = lambda q, k, v: comp(q, k, v, "elu_plus_one", 64)[0]
    un = cf.compiled("unnormalised_linear_attention")
    m["torch_unnorm_compiled"] = lambda q, k, v: un(q, k, v, "elu_plus_one", 64)[0]
    try:
        from fla.ops.linear_attn import chunk_linear_attn
    except Exception as e:  # noqa: BLE001 - any import failure means: no fla here
        print(f"fla not importable ({type(e).__name__}: {e}); fla methods skipped")
        return m

    def fla(normalize):   # fla wants (B, T, H, D); the transposes are outside the kernel but timed
        def fn(q, k, v):
            t = lambda x: x.transpose(1, 2)   # noqa: E731
            out = chunk_linear_attn(F.elu(t(q)) + 1, F.elu(t(k)) + 1, t(v), scale=1.0, normalize=normalize)[0]
            return out.transpose(1, 2)
        return fn
    m["fla_norm"], m["fla_unnorm"] = fla(True), fla(False)
    return m


def reference(name, q, k, v):
    q, k, v = (x.double() for x in (q, k, v))
    if "unnorm" in name:
        return cf.unnormalised_linear_attention(q, k, v, "elu_plus_one", 64)[0]
    return lt.chunked_linear_attention(q, k, v, "elu_plus_one", 64)[0]


def time_ms(fn, device, reps):
    if device.type != "cuda":
        import time
        fn()
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t) * 1e3)
        return statistics.median(ts)
    flush = torch.empty(256 * 2**20, dtype=torch.int8, device=device)
    fn()
    torch.cuda.synchronize(device)
    pairs = []
    for _ in range(reps):
        flush.zero_()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        pairs.append((s, e))
    torch.cuda.synchronize(device)
    return statistics.median(s.elapsed_time(e) for s, e in pairs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--B", type=int, default=4)
    p.add_argument("--H", type=int, default=16)
    p.add_argument("--D", type=int, default=64)
    p.add_argument("--T", type=int, nargs="+", default=[16384, 32768, 65536])
    p.add_argument("--err-T", type=int, default=2048)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--bandwidth", type=float, default=4.28e12, help="bytes/s for the memory floor")
    p.add_argument("--methods", nargs="+", default=None, help="a subset of the method names (default: all)")
    p.add_argument("--out", default="benchmarks/results/triton_speed.json")
    args = p.parse_args(argv)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    B, H, D = args.B, args.H, args.D
    g = torch.Generator(device="cpu").manual_seed(0)
    rows, ms = [], methods()
    if args.methods:
        ms = {name: ms[name] for name in args.methods}
    for T in args.T:
        q, k, v, do = (torch.randn(B, H, T, D, generator=g).to(device=device, dtype=dtype) for _ in range(4))
        floor_ms = 4 * q.numel() * q.element_size() / args.bandwidth * 1e3    # read q, k, v; write o
        for name, fn in ms.items():
            with torch.no_grad():
                fwd = time_ms(lambda: fn(q, k, v), device, args.reps)
            qg, kg, vg = (x.detach().requires_grad_(True) for x in (q, k, v))
            step = lambda: torch.autograd.grad(fn(qg, kg, vg), (qg, kg, vg), do)   # noqa: E731
            both = time_ms(step, device, args.reps)
            peak = None
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
                step()
                peak = torch.cuda.max_memory_allocated(device) / 2**30
            rows.append(dict(method=name, T=T, fwd_ms=fwd, fwd_bwd_ms=both, peak_gib=peak,
                             fwd_over_floor=fwd / floor_ms, floor_ms=floor_ms))
            print(f"{name:22s} T={T:6d} fwd {fwd:9.3f} ms ({fwd / floor_ms:6.1f}x floor)  fwd+bwd {both:9.3f} ms"
                  f"  peak {peak if peak is None else round(peak, 3)} GiB", flush=True)
    Te = min(args.err_T, max(args.T))
    q, k, v = (torch.randn(B, H, Te, D, generator=g).to(device=device, dtype=dtype) for _ in range(3))
    errors = {}
    for name, fn in ms.items():
        with torch.no_grad():
            ref = reference(name, q, k, v)
            errors[name] = ((fn(q, k, v).double() - ref).norm() / ref.norm()).item()
        print(f"{name:22s} rel. error vs float64 at T={Te}: {errors[name]:.2e}")
    info = dict(command=" ".join([sys.executable, "-m", "benchmarks.triton_speed"] + (argv or sys.argv[1:])),
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                machine=dict(platform=platform.platform(), python=platform.python_version(),
                             device=torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()),
                versions={p_: _version(p_) for p_ in ("torch", "triton", "flash-linear-attention")},
                B=B, H=H, D=D, dtype=args.dtype, bandwidth=args.bandwidth, rows=rows, errors=errors, error_T=Te)
    with open(args.out, "w") as f:
        json.dump(info, f, indent=1)
    print(f"wrote {args.out}")


def _version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
