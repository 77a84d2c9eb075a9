"""Every public function of linattn_edu.torch on a GPU in float32 against the NumPy mirror in float64.

    python -m benchmarks.gpu_check                   # cuda (falls back to --device cpu if asked)
    python -m benchmarks.gpu_check --device cpu      # the same check on the CPU (float32)

The inputs are the parity cases of tests/test_mirror.py (every public name has at least one there;
performer with a fixed w drawn in NumPy), converted to float32 on the device. For each case the
relative error ||torch - numpy|| / ||numpy|| of every returned array must be at most --rtol (1e-4).
gaussian_projection draws differ between the mirrors by design: on the device it is checked for
shape, device, dtype and the moments of its entries (mean 0, variance 1) instead.
Prints one row per function (cases, worst error, pass/fail) and exits non-zero on a failure.
"""
import argparse
import os
import sys

import numpy as np
import torch

from linattn_edu import numpy as lnp, torch as lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from test_mirror import _cases  # noqa: E402  (the parity cases: one list, maintained with the API)


def _to_device(x, device, dtype):
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x).to(device=device, dtype=dtype)
    if isinstance(x, tuple):
        return tuple(_to_device(y, device, dtype) for y in x)
    return x


def _flatten(x):
    if isinstance(x, (tuple, list)):
        return [a for y in x for a in _flatten(y)]
    return [x]


def rel_error(ref, got):
    """Largest ||got - ref|| / ||ref|| over the arrays of one output (0/0 counts as 0)."""
    worst = 0.0
    refs, gots = _flatten(ref), _flatten(got)
    assert len(refs) == len(gots), "different number of outputs"
    for r, g in zip(refs, gots):
        g = g.detach().double().cpu().numpy()
        assert g.shape == r.shape, f"shape {g.shape} != {r.shape}"
        if not np.all(np.isfinite(g)):
            return float("inf")
        num, den = np.linalg.norm(g - r), np.linalg.norm(r)
        worst = max(worst, 0.0 if num == 0 else num / den if den > 0 else float("inf"))
    return worst


def check_projection(device, dtype):
    errs = []
    for orthogonal in (False, True):
        w = lt.gaussian_projection(4096, 64, orthogonal=orthogonal, seed=0, dtype=dtype, device=device)
        assert w.shape == (4096, 64) and w.device.type == device.type and w.dtype == dtype
        x = w.double().cpu().numpy().ravel()
        se = 1 / np.sqrt(x.size)                        # standard error of the mean of N(0, 1) entries
        errs.append(max(abs(x.mean()) / (5 * se), abs(x.var() - 1) / (5 * np.sqrt(2) * se)))
    return max(errs)                                    # <= 1: within 5 standard errors


def check_fast_paths(device, dtype, rtol, failed):
    """linattn_edu.torch.chunkwise_fast on the device against the readable torch forms in float64 on the CPU."""
    from linattn_edu.torch import chunkwise_fast as cf
    g = torch.Generator().manual_seed(20261201)
    q, k, v = (torch.randn(2, 3, 157, 16, generator=g, dtype=torch.float64) for _ in range(3))
    kn = torch.nn.functional.normalize(k, dim=-1)
    S0 = torch.randn(2, 3, 16, 16, generator=g, dtype=torch.float64)
    cases = {
        "fast: decayed (scalar)": (cf.decayed_linear_attention, lt.decayed_linear_attention,
                                   (q, k, v, -torch.rand(2, 3, 157, generator=g, dtype=torch.float64))),
        "fast: decayed (per feature)": (cf.decayed_linear_attention, lt.decayed_linear_attention,
                                        (q, k, v, -torch.rand(2, 3, 157, 16, generator=g, dtype=torch.float64) / 4)),
        "fast: delta rule": (cf.delta_rule_attention, lt.delta_rule_attention,
                             (q, kn, v, torch.rand(2, 3, 157, generator=g, dtype=torch.float64))),
        "fast: gated delta rule": (cf.gated_delta_rule_attention, lt.gated_delta_rule_attention,
                                   (q, kn, v, torch.rand(2, 3, 157, generator=g, dtype=torch.float64),
                                    -torch.rand(2, 3, 157, generator=g, dtype=torch.float64))),
    }
    rows = []
    for name, (fast, ref, args_) in cases.items():
        want = ref(*args_, None, S0)
        dev_args = [x.to(device=device, dtype=dtype) for x in args_]
        got = fast(*dev_args, 32, S0.to(device=device, dtype=dtype))
        err = max(float((a.detach().double().cpu() - b).norm() / b.norm()) for a, b in zip(got, want))
        rows.append((name, 1, err, "ok" if err <= rtol else "FAIL"))
        if err > rtol:
            failed.append(name)
    # the unnormalised fast path and the Triton kernels (when Triton is there) against the readable
    # forms in float64: normalised chunked, and zero decay for the unnormalised form (out, S compared)
    z0 = torch.rand(2, 3, 16, generator=g, dtype=torch.float64) + 1.0
    unnorm_ref = lt.decayed_linear_attention(lt.elu_plus_one(q), lt.elu_plus_one(k), v, torch.zeros_like(q[..., 0]),
                                             None, S0)
    out, (S, z) = lt.chunked_linear_attention(q, k, v, "elu_plus_one", 32, state=(S0, z0))
    norm_ref = (out, S, z)
    dq_, dk_, dv_, dS0, dz0 = (x.to(device=device, dtype=dtype) for x in (q, k, v, S0, z0))

    def out_S(res, with_z=False):
        o, (S_, z_) = res
        return (o, S_, z_) if with_z else (o, S_)
    cases = [("fast: unnormalised linear", lambda: out_S(cf.unnormalised_linear_attention(
        dq_, dk_, dv_, "elu_plus_one", 32, state=(dS0, dz0))), unnorm_ref)]
    try:
        from linattn_edu.kernels import chunked_linear_attention as kernels
        cases += [("triton: normalised", lambda: out_S(kernels(dq_, dk_, dv_, "elu_plus_one", 32, state=(dS0, dz0)),
                                                       with_z=True), norm_ref),
                  ("triton: unnormalised", lambda: out_S(kernels(dq_, dk_, dv_, "elu_plus_one", 32, state=(dS0, dz0),
                                                                 normalise=False)), unnorm_ref)]
    except ImportError as e:
        print(f"Triton kernels not checked: {e}")
    for name, fn, want in cases:
        got = fn()
        err = max(float((a.detach().double().cpu() - b).norm() / b.norm()) for a, b in zip(got, want))
        rows.append((name, 1, err, "ok" if err <= rtol else "FAIL"))
        if err > rtol:
            failed.append(name)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description="linattn_edu.torch on a device (float32) vs NumPy (float64)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--rtol", type=float, default=1e-4)
    args = p.parse_args(argv)
    device, dtype = torch.device(args.device), torch.float32
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --device cpu, or on a GPU machine")
    print(f"linattn_edu.torch on {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'} "
          f"(float32) vs linattn_edu.numpy (float64); torch {torch.__version__}; tolerance {args.rtol:g} relative")
    cases = _cases(np.random.default_rng(20261128))
    rows, failed = [], []
    for name in sorted(lt.__all__):
        if name == "gaussian_projection":
            score = check_projection(device, dtype)
            rows.append((name, 2, score, "moments within 5 s.e." if score <= 1 else "moments off"))
            if score > 1:
                failed.append(name)
            continue
        if name not in cases:
            rows.append((name, 0, float("nan"), "NO CASE"))
            failed.append(name)
            continue
        worst, n = 0.0, 0
        for args_np, kwargs_np in cases[name]:
            ref = getattr(lnp, name)(*args_np, **kwargs_np)
            got = getattr(lt, name)(*_to_device(args_np, device, dtype),
                                    **{k: _to_device(v, device, dtype) for k, v in kwargs_np.items()})
            for g in _flatten(got):
                assert g.device.type == device.type, f"{name} returned a tensor on {g.device}"
            worst = max(worst, rel_error(ref, got))
            n += 1
        ok = worst <= args.rtol
        rows.append((name, n, worst, "ok" if ok else "FAIL"))
        if not ok:
            failed.append(name)
    rows += check_fast_paths(device, dtype, args.rtol, failed)
    print(f"{'function':28s}{'cases':>6s}{'worst rel. error':>18s}  result")
    for name, n, err, res in rows:
        print(f"{name:28s}{n:6d}{err:18.2e}  {res}")
    print(f"{len(rows) - len(failed)}/{len(rows)} functions pass" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
