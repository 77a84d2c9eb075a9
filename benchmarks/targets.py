"""The speed targets of issues #18 (torch fast paths) and #19 (Triton kernels) against one stored run.

    from benchmarks import targets
    run = targets.load()                                  # benchmarks/results/h200-2026-12-02.json
    for t in targets.TARGETS:
        print(t["issue"], t["what"], targets.evaluate(run, t))

Every number comes from the run file (written by ``python -m benchmarks.speed``): a ratio is the stored
median time (or peak memory, or relative error) of our method over fla's at the same length and pass;
a target is met when that ratio is at most its bound at every length it names. ``split`` turns a stored
profile into where the time goes: CUDA kernel time per group (benchmarks.speed.kernel_group) plus the
launch gaps (the timed median minus the kernel time of one call).
"""
import json
import os

from . import speed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "benchmarks", "results", "h200-2026-12-02.json")

# (form, ours, fla): every form of ours against the fla kernel that computes the same function
PAIRS = [
    ("unnormalised linear", "unnorm_compiled", "fla_chunk_unnorm"),
    ("unnormalised linear, Triton", "triton_unnorm", "fla_chunk_unnorm"),
    ("normalised linear", "chunked_compiled", "fla_chunk"),
    ("normalised linear, Triton", "triton_norm", "fla_chunk"),
    ("scalar decay", "decay_compiled", "fla_simple_gla"),
    ("scalar decay, eager", "decay_fast", "fla_simple_gla"),
    ("per-feature decay (GLA)", "gla_compiled", "fla_gla"),
    ("per-feature decay, eager", "gla_fast", "fla_gla"),
    ("delta rule", "delta_compiled", "fla_delta"),
    ("delta rule, eager", "delta_fast", "fla_delta"),
    ("delta rule, readable form", "delta_ref", "fla_delta"),
    ("Gated DeltaNet", "gated_delta_compiled", "fla_gated_delta"),
    ("Gated DeltaNet, eager", "gated_delta_fast", "fla_gated_delta"),
]
LONG = (16384, 32768, 65536)
FROM_4K = (4096, 16384, 32768, 65536)


def _t(issue, what, ours, fla, mode, Ts, bound, key="ms"):
    return dict(issue=issue, what=what, ours=ours, fla=fla, mode=mode, T=Ts, bound=bound, key=key)


# Gated DeltaNet has no target of its own in #18 ("joins the table"): it is in PAIRS, and in the error targets.
# key: "ms" (median time), "peak_gib" (peak memory), "err" (largest relative error vs float64 of out and of
# every gradient both methods return, at the run's check size), "floor" (forward time over the memory floor)
TARGETS = [
    _t("#18", "unnormalised linear, fwd+bwd", "unnorm_compiled", "fla_chunk_unnorm", "fwd+bwd", (16384, 65536), 1.5),
    _t("#18", "unnormalised linear, memory", "unnorm_compiled", "fla_chunk_unnorm", "fwd+bwd", (16384, 65536), 1.2,
       "peak_gib"),
    _t("#18", "normalised linear, fwd+bwd (default compile)", "chunked_compiled", "fla_chunk", "fwd+bwd", LONG, 1.0),
    _t("#18", "scalar decay, fwd", "decay_compiled", "fla_simple_gla", "fwd", FROM_4K, 1.5),
    _t("#18", "scalar decay, fwd+bwd vs the best fla gated kernel that runs (chunk_gla)", "decay_compiled", "fla_gla",
       "fwd+bwd", FROM_4K, 1.5),
    _t("#18", "per-feature decay, fwd (vs chunk_gla: the same function)", "gla_compiled", "fla_gla", "fwd", FROM_4K,
       1.5),
    _t("#18", "per-feature decay, fwd+bwd", "gla_compiled", "fla_gla", "fwd+bwd", FROM_4K, 1.5),
    _t("#18", "delta rule, fwd+bwd", "delta_compiled", "fla_delta", "fwd+bwd", (4096, 16384), 2.0),
    _t("#18", "delta rule, memory", "delta_compiled", "fla_delta", "fwd+bwd", (4096, 16384), 1.5, "peak_gib"),
] + [_t("#18", f"errors: {form}", ours, fla, None, None, 1.0, "err") for form, ours, fla in PAIRS
     if ours.endswith("_compiled")] + [
    _t("#19", "Triton unnormalised, fwd+bwd", "triton_unnorm", "fla_chunk_unnorm", "fwd+bwd", LONG, 1.0),
    _t("#19", "Triton normalised, fwd+bwd", "triton_norm", "fla_chunk", "fwd+bwd", LONG, 0.6),
    _t("#19", "Triton unnormalised, fwd over the memory floor", "triton_unnorm", None, "fwd", (65536,), 5.0, "floor"),
    _t("#19", "Triton normalised, fwd over the memory floor", "triton_norm", None, "fwd", (65536,), 5.0, "floor"),
    _t("#19", "Triton unnormalised, memory", "triton_unnorm", "fla_chunk_unnorm", "fwd+bwd", LONG, 1.0, "peak_gib"),
    _t("#19", "Triton normalised, memory", "triton_norm", "fla_chunk", "fwd+bwd", LONG, 1.0, "peak_gib"),
    _t("#19", "errors: Triton unnormalised", "triton_unnorm", "fla_chunk_unnorm", None, None, 1.0, "err"),
    _t("#19", "errors: Triton normalised", "triton_norm", "fla_chunk", None, None, 1.0, "err"),
]
ERROR_KEYS = ("err_out", "err_dq", "err_dk", "err_dv", "err_dg", "err_dbeta")


def load(path=None):
    with open(path or RUN) as f:
        return json.load(f)


def row(run, method, mode, T):
    """The stored result row of (method, mode, T), or None."""
    return next((r for r in run["results"] if (r["method"], r["mode"], r["T"]) == (method, mode, T)), None)


def value(run, method, mode, T, key="ms"):
    r = row(run, method, mode, T)
    return None if r is None or r["status"] != "ok" else r[key]


def floor_ms(run, T):
    """Fewest bytes a forward moves (read q, k, v, write out once) over the run's measured copy bandwidth."""
    m = run["meta"]
    bytes_ = 4 * m["B"] * m["H"] * T * m["D"] * 2                       # bf16: 2 bytes
    return bytes_ / (run["ceilings"]["copy_TBps"] * 1e12) * 1e3


def errors(run, method):
    """The correctness row of a method at the check size (dict of err_* that it has)."""
    c = next((c for c in run["correctness"] if c["method"] == method and "error" not in c), None)
    return None if c is None else {k: c[k] for k in ERROR_KEYS if k in c}


def evaluate(run, target):
    """[(T, ours, fla, ratio, met)] for a target (T None for an error target); fla None for a floor target.

    A point whose fla value is missing (fla refused the pass) has ratio None and met None."""
    key, bound = target["key"], target["bound"]
    if key == "err":
        ours, fla = errors(run, target["ours"]), errors(run, target["fla"])
        shared = [k for k in ERROR_KEYS if k in ours and k in fla]
        o, f = max(ours[k] for k in shared), max(fla[k] for k in shared)
        return [(None, o, f, o / f, o / f <= bound)]
    points = []
    for T in target["T"]:
        o = value(run, target["ours"], target["mode"], T, key="ms" if key == "floor" else key)
        f = floor_ms(run, T) if key == "floor" else value(run, target["fla"], target["mode"], T, key=key)
        ratio = None if o is None or f is None else o / f
        points.append((T, o, f, ratio, None if ratio is None else ratio <= bound))
    return points


def met(points):
    """True (every point met), False (one missed) or None (nothing comparable)."""
    flags = [p[4] for p in points if p[4] is not None]
    return None if not flags else all(flags)


def split(run, method, mode):
    """Where the time of one profiled call goes: {group: ms} over speed.GROUPS, the kernels beyond the stored
    list ("not listed"), and "launch gaps" (timed median - all kernel time), plus "timed" and "kernels"."""
    p = next(p for p in run["profile"] if (p["method"], p["mode"]) == (method, mode) and p["status"] == "ok")
    total, listed = p["kernels"][0], p["kernels"][1:]
    out = {g: 0.0 for g in speed.GROUPS}
    for k in listed:
        out[speed.kernel_group(k["kernel"])] += k["ms_per_call"]
    out["not listed"] = total["ms_per_call"] - sum(k["ms_per_call"] for k in listed)
    out["launch gaps"] = p["timed_ms"] - total["ms_per_call"]
    out.update(timed=p["timed_ms"], kernels=total["ms_per_call"], launches=total["launches_per_call"], T=p["T"])
    return out


def top_kernels(run, method, mode, n=3):
    """The n kernels of a profile with the most time: [(name, ms per call, launches, group)]."""
    p = next(p for p in run["profile"] if (p["method"], p["mode"]) == (method, mode) and p["status"] == "ok")
    return [(k["kernel"], k["ms_per_call"], k["launches_per_call"], speed.kernel_group(k["kernel"]))
            for k in p["kernels"][1:n + 1]]
