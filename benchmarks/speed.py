"""Time and memory of attention forms against sequence length: the harness behind notebook 10.

    make bench                                        # CPU, float32, small sizes (minutes)
    python -m benchmarks.speed --device cuda          # GPU: bfloat16, B=4, H=16, D=64, T = 1k ... 64k

Every linear-attention method applies phi = elu+1 inside the timed call and computes the normalised
causal form out_t = phi(q_t)^T S_t / phi(q_t)^T z_t (the non-causal pair excepted). Methods:

    sdpa              softmax attention, torch's scaled_dot_product_attention (FlashAttention/cuDNN on a GPU)
    quadratic         kernel_attention: tril(phi(Q) phi(K)^T) V / row sums        O(T^2) memory
    cumsum            linear_attention(causal=True): cumsum of outer products      O(T m d_v) memory
    recurrent         recurrent_linear_attention: a Python loop over t             (short T only)
    chunked64/128     chunked_linear_attention, eager, chunk_size 64 / 128
    chunked_compiled  compiled_chunked_linear_attention() (torch.compile), chunk_size --compiled-chunk
    chunked_compiled_nfirst   the same with normalise_first=True (an ablation of the fast path)
    fla_chunk         flash-linear-attention's Triton chunk_linear_attn, when importable (never required)
    linear_noncausal / sdpa_noncausal   the non-causal pair
    sdpa_flash / sdpa_cudnn             SDPA with the FlashAttention-2 / cuDNN backend forced (sdpa: the default)
    chunked_compiled_auto               chunked_compiled with torch.compile's automatic dynamic shapes

The gated and delta-rule forms (their own inputs: log-decays g = logsigmoid(x), per feature
logsigmoid(x) / 16 as in GLA, beta = sigmoid(x); the delta forms l2-normalise q and k inside the call;
gradients also wrt the gates):

    unnorm_compiled / fla_chunk_unnorm  unnormalised causal linear attention: chunkwise_fast, compiled / fla normalize=False
    decay_*           scalar decay (Mamba-2 / RetNet style): _fast (eager), _compiled, _ref (the readable
                      gating.py form, C = 64) against fla chunk_simple_gla
    gla_*             per-feature decay (GLA) against fla chunk_gla
    delta_*           the delta rule (DeltaNet) against fla chunk_delta_rule
    gated_delta_*     Gated DeltaNet: _fast (chunkwise_fast, eager), _compiled, _ref (the readable gated_delta.py
                      form, C = 64) against fla chunk_gated_delta_rule

(linattn_edu.torch's decayed / delta / gated delta functions with an integer chunk_size run chunkwise_fast,
so the _ref methods and the float64 references call the readable chunked forms, _*_chunked_reference.)

The Triton kernels of notebook 13 (linattn_edu.kernels, phi = elu+1 fused; GPU, or TRITON_INTERPRET=1 on the CPU):

    triton_norm / triton_unnorm   kernels.chunked_linear_attention(normalise=True / False), chunk --compiled-chunk

`--list-methods` prints every name. On a GPU each softmax row records the SDPA backend that ran
(`sdpa_backend`, read off the names of the CUDA kernels of one call), and `--profile-T` stores, per
profiled method, its CUDA kernel time grouped into matmul / scan / elementwise / other (`kernel_group`);
the launch gaps are the timed median minus the kernel time of one call.

Times: CUDA events around each call (host clock on the CPU), a warm-up call first (compilation and
Triton autotuning stay out), then repeats up to a time budget (at least 5), the median reported;
on a GPU the L2 cache is flushed between repeats. "fwd" runs under torch.no_grad(); "fwd+bwd" adds
torch.autograd.grad with respect to q, k, v for a random d(out). Peak memory:
torch.cuda.max_memory_allocated() over one call, inputs (and d(out)) included. Correctness: the
relative error ||out - ref|| / ||ref|| (and of dq, dk, dv) against float64 on the same (rounded)
inputs, at a small size and, output only, at the longest T. Results go to a JSON file (method, T,
times, memory, errors, device, versions, date, command) and a table on stdout.
"""
import argparse
import datetime
import functools
import importlib.metadata
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from linattn_edu import torch as lt
from linattn_edu.torch import chunkwise_fast as cf
from linattn_edu.torch.causal import chunked_from_features, compiled_chunked_linear_attention
from linattn_edu.torch.delta_rule import _delta_chunked_reference
from linattn_edu.torch.gated_delta import _gated_delta_chunked_reference
from linattn_edu.torch.gating import _decayed_chunked_reference
from linattn_edu.torch.reassociation import accumulation_dtype, linear_attention_from_features

PHI = "elu_plus_one"
MODES = ("fwd", "fwd+bwd")
DEFAULT_CPU = ("chunked_compiled", "sdpa", "chunked64", "chunked128", "linear_noncausal", "sdpa_noncausal", "cumsum",
               "quadratic", "recurrent", "decay_fast", "decay_ref", "gla_fast", "delta_fast", "delta_ref")
OOM = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32, "float64": torch.float64}


# ----------------------------------------------------------------------------------------------
# the methods: each maps (q, k, v) in [B, H, T, D] layout to out (same layout)
# ----------------------------------------------------------------------------------------------

def _sdpa(q, k, v, causal=True):
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def _sdpa_forced(backend):
    """SDPA causal with one backend forced ("FLASH_ATTENTION" = FlashAttention-2, "CUDNN_ATTENTION")."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def fn(q, k, v):
        with sdpa_kernel(getattr(SDPBackend, backend)):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return fn


def _l2(x):
    return F.normalize(x, dim=-1)


# --- fla's kernels: inputs already in [B, T, H, D] (gates [B, T, H] or [B, T, H, D]); scale = 1 ---------

def _fla_chunk_unnorm(q, k, v):
    from fla.ops.linear_attn import chunk_linear_attn
    return chunk_linear_attn(_elu_plus_one_fused(q), _elu_plus_one_fused(k), v, scale=1.0, normalize=False)[0]


def _fla_simple_gla(q, k, v, g):
    from fla.ops.simple_gla import chunk_simple_gla
    return chunk_simple_gla(q, k, v, g=g, scale=1.0)[0]


def _fla_gla(q, k, v, g):
    from fla.ops.gla import chunk_gla
    return chunk_gla(q, k, v, g, scale=1.0)[0]


def _fla_delta(q, k, v, beta):
    from fla.ops.delta_rule import chunk_delta_rule
    return chunk_delta_rule(q, k, v, beta, scale=1.0, use_qk_l2norm_in_kernel=True)[0]


def _fla_gated_delta(q, k, v, g, beta):
    from fla.ops.gated_delta_rule import chunk_gated_delta_rule
    return chunk_gated_delta_rule(q, k, v, g, beta, scale=1.0, use_qk_l2norm_in_kernel=True)[0]


# --- float64 references of the gated forms: the readable library forms, never the fast path ----------
# (lt.decayed_linear_attention & co. with an integer chunk_size run chunkwise_fast; the readable chunked
# forms are the modules' _*_chunked_reference functions)

def _ref_unnorm(q, k, v):
    fq, fk = lt.elu_plus_one(q), lt.elu_plus_one(k)
    return _decayed_chunked_reference(fq, fk, v, torch.zeros_like(fq[..., 0]), 64)[0]


def _ref_decay(q, k, v, g):
    return _decayed_chunked_reference(q, k, v, g, 64)[0]


def _ref_delta(q, k, v, beta):
    return _delta_chunked_reference(_l2(q), _l2(k), v, beta, 64)[0]


def _ref_gated_delta(q, k, v, g, beta):
    return _gated_delta_chunked_reference(_l2(q), _l2(k), v, beta, g, 64)[0]


def _triton(normalise, chunk_size):
    """The Triton kernels of notebook 13, imported at the first call (Triton is an optional extra)."""
    def fn(q, k, v):
        from linattn_edu.kernels import chunked_linear_attention as kernels
        return kernels(q, k, v, PHI, chunk_size, normalise=normalise)[0]
    return fn


def _compiled_delta_core(mode, dynamic):
    """chunkwise_fast's delta core with the l2 normalisation of q, k inside the compiled graph."""
    return torch.compile(lambda q, k, v, b, C, S0: cf._delta_core(_l2(q), _l2(k), v, b, C, S0),
                         mode=mode, dynamic=dynamic)


def _compiled_gated_delta_core(mode, dynamic):
    """chunkwise_fast's gated delta core with the l2 normalisation of q, k inside the compiled graph."""
    return torch.compile(lambda q, k, v, b, g, C, S0: cf._gated_delta_core(_l2(q), _l2(k), v, b, g, C, S0),
                         mode=mode, dynamic=dynamic)


def _elu_plus_one_fused(x):
    """elu(x) + 1 in two eager kernels (F.elu, add): the fastest eager phi, used for fla's inputs.

    (lt.elu_plus_one is written as where(x > 0, x + 1, exp(min(x, 0))) for accuracy at x < -17, which
    costs five eager kernels; on N(0, 1) inputs both agree to rounding.)"""
    return F.elu(x) + 1.0


def _fla_chunk(q, k, v):
    """fla wants [B, T, H, D]; the harness hands it inputs already in that layout (not timed)."""
    from fla.ops.linear_attn import chunk_linear_attn
    out, _ = chunk_linear_attn(_elu_plus_one_fused(q), _elu_plus_one_fused(k), v, scale=1.0, normalize=True)
    return out


def _chunked_normalise_first(q, k, v, chunk_size=64):
    """The fast path with normalise_first=True (an ablation: rows of phi(Q) and A scaled by 1/den first)."""
    fq, fk = lt.elu_plus_one(q), lt.elu_plus_one(k)
    acc = accumulation_dtype(v.dtype)
    S0 = torch.zeros(*q.shape[:-2], fq.shape[-1], v.shape[-1], dtype=acc, device=v.device)
    z0 = torch.zeros(*q.shape[:-2], fq.shape[-1], dtype=acc, device=v.device)
    return chunked_from_features(fq, fk, v, chunk_size, S0, z0, normalise_first=True)[0]


def fla_available():
    try:
        import fla.ops.linear_attn  # noqa: F401
        return True
    except Exception as e:                              # not installed, or no GPU / triton
        print(f"flash-linear-attention not importable ({type(e).__name__}: {e}); fla_chunk skipped")
        return False


class Method:
    """fn(q, k, v, *gates) -> out; gates: None, "decay", "decay_pf", "beta" or "decay_beta";
    ref(q, k, v, *gates) in float64 for the kinds beyond softmax / linear."""

    def __init__(self, name, label, fn, kind, causal=True, max_T=None, layout="bhtd", gates=None, ref=None):
        self.name, self.label, self.fn, self.kind, self.causal = name, label, fn, kind, causal
        self.max_T = max_T or {}            # device type -> longest T worth timing
        self.layout = layout
        self.gates, self.ref = gates, ref


def make_methods(args):
    cc = args.compiled_chunk
    compiled = compiled_chunked_linear_attention(mode=args.compile_mode, dynamic=args.compile_dynamic)
    compiled_nfirst = torch.compile(_chunked_normalise_first, mode=args.compile_mode, dynamic=args.compile_dynamic)
    ms = [
        Method("fla_chunk", "fla chunk_linear_attn (Triton)", _fla_chunk, "linear", layout="bthd"),
        Method("chunked_compiled", f"chunked C={cc}, torch.compile",
               lambda q, k, v: compiled(q, k, v, PHI, cc)[0], "linear"),
        Method("chunked_compiled_nfirst", f"chunked C={cc}, torch.compile, normalise first (ablation)",
               lambda q, k, v: compiled_nfirst(q, k, v, cc), "linear"),
        Method("sdpa", "softmax, SDPA causal", _sdpa, "softmax"),
        Method("chunked64", "chunked C=64, eager", lambda q, k, v: lt.chunked_linear_attention(q, k, v, PHI, 64)[0],
               "linear"),
        Method("chunked128", "chunked C=128, eager",
               lambda q, k, v: lt.chunked_linear_attention(q, k, v, PHI, 128)[0], "linear"),
        Method("linear_noncausal", "linear, non-causal", lambda q, k, v: lt.linear_attention(q, k, v, PHI),
               "linear", causal=False),
        Method("sdpa_noncausal", "softmax, SDPA non-causal", functools.partial(_sdpa, causal=False), "softmax",
               causal=False),
        Method("cumsum", "cumsum of outer products (fp32 state)",
               lambda q, k, v: lt.linear_attention(q, k, v, PHI, causal=True), "linear",
               max_T={"cuda": 32768, "cpu": 4096}),
        Method("quadratic", "quadratic tril(phi phi^T) V", lambda q, k, v: lt.kernel_attention(q, k, v, PHI, causal=True),
               "linear", max_T={"cuda": 16384, "cpu": 4096}),
        Method("recurrent", "recurrent (loop over t)", lambda q, k, v: lt.recurrent_linear_attention(q, k, v, PHI)[0],
               "linear", max_T={"cuda": 1024, "cpu": 512}),
    ]
    ms += gated_methods(args)
    return ms


def gated_methods(args):
    """SDPA backends, the compile-setting twin, the unnormalised, decay and delta forms and their fla kernels."""
    cc, mode = args.compiled_chunk, args.compile_mode
    auto = compiled_chunked_linear_attention(mode=mode, dynamic=None)
    unnorm = cf.compiled("unnormalised_linear_attention", mode=mode, dynamic=args.compile_dynamic)
    decay = cf.compiled("decayed_linear_attention", mode=mode, dynamic=args.compile_dynamic)
    delta_core = _compiled_delta_core(mode, args.compile_dynamic)
    gated_delta_core = _compiled_gated_delta_core(mode, args.compile_dynamic)
    big = {"cuda": 16384, "cpu": 1024}
    ms = [
        Method("sdpa_flash", "softmax, SDPA causal, FlashAttention-2 forced", _sdpa_forced("FLASH_ATTENTION"),
               "softmax", max_T={"cpu": 0}),
        Method("sdpa_cudnn", "softmax, SDPA causal, cuDNN forced", _sdpa_forced("CUDNN_ATTENTION"), "softmax",
               max_T={"cpu": 0}),
        Method("chunked_compiled_auto", f"chunked C={cc}, torch.compile(dynamic=None): automatic dynamic shapes",
               lambda q, k, v: auto(q, k, v, PHI, cc)[0], "linear"),
        Method("fla_chunk_unnorm", "fla chunk_linear_attn(normalize=False)", _fla_chunk_unnorm, "unnorm",
               layout="bthd", ref=_ref_unnorm),
        Method("unnorm_compiled", f"unnormalised linear, chunkwise_fast C={cc}, compiled",
               lambda q, k, v: unnorm(q, k, v, PHI, cc)[0], "unnorm", ref=_ref_unnorm),
        Method("fla_simple_gla", "fla chunk_simple_gla (scalar decay)", _fla_simple_gla, "decay", layout="bthd",
               gates="decay", ref=_ref_decay),
        Method("decay_compiled", f"scalar decay, chunkwise_fast C={cc}, compiled",
               lambda q, k, v, g: decay(q, k, v, g, cc)[0], "decay", gates="decay", ref=_ref_decay),
        Method("decay_fast", f"scalar decay, chunkwise_fast C={cc}, eager",
               lambda q, k, v, g: cf.decayed_linear_attention(q, k, v, g, cc)[0], "decay", gates="decay",
               ref=_ref_decay),
        Method("decay_ref", "scalar decay, gating.py readable form C=64, eager",
               lambda q, k, v, g: _decayed_chunked_reference(q, k, v, g, 64)[0], "decay", gates="decay",
               ref=_ref_decay, max_T=big),
        Method("fla_gla", "fla chunk_gla (per-feature decay)", _fla_gla, "decay", layout="bthd", gates="decay_pf",
               ref=_ref_decay),
        Method("gla_compiled", f"per-feature decay, chunkwise_fast C={cc}, compiled",
               lambda q, k, v, g: decay(q, k, v, g, cc)[0], "decay", gates="decay_pf", ref=_ref_decay),
        Method("gla_fast", f"per-feature decay, chunkwise_fast C={cc}, eager",
               lambda q, k, v, g: cf.decayed_linear_attention(q, k, v, g, cc)[0], "decay", gates="decay_pf",
               ref=_ref_decay, max_T=big),
        Method("fla_delta", "fla chunk_delta_rule (l2-normalised q, k in kernel)", _fla_delta, "delta",
               layout="bthd", gates="beta", ref=_ref_delta),
        Method("delta_compiled", f"delta rule, chunkwise_fast C={cc}, compiled (l2 norm inside)",
               lambda q, k, v, b: cf.delta_rule_attention(q, k, v, b, cc, _core=delta_core)[0], "delta",
               gates="beta", ref=_ref_delta),
        Method("delta_fast", f"delta rule, chunkwise_fast C={cc}, eager",
               lambda q, k, v, b: cf.delta_rule_attention(_l2(q), _l2(k), v, b, cc)[0], "delta", gates="beta",
               ref=_ref_delta),
        Method("delta_ref", "delta rule, delta_rule.py readable form C=64 (loop over chunks), eager",
               lambda q, k, v, b: _delta_chunked_reference(_l2(q), _l2(k), v, b, 64)[0], "delta", gates="beta",
               ref=_ref_delta, max_T={"cuda": 4096, "cpu": 1024}),
        Method("fla_gated_delta", "fla chunk_gated_delta_rule (l2 norm in kernel)", _fla_gated_delta,
               "gated_delta", layout="bthd", gates="decay_beta", ref=_ref_gated_delta),
        Method("gated_delta_compiled", f"Gated DeltaNet, chunkwise_fast C={cc}, compiled (l2 norm inside)",
               lambda q, k, v, g, b: cf.gated_delta_rule_attention(q, k, v, b, g, cc, _core=gated_delta_core)[0],
               "gated_delta", gates="decay_beta", ref=_ref_gated_delta),
        Method("gated_delta_fast", f"Gated DeltaNet, chunkwise_fast C={cc}, eager",
               lambda q, k, v, g, b: cf.gated_delta_rule_attention(_l2(q), _l2(k), v, b, g, cc)[0], "gated_delta",
               gates="decay_beta", ref=_ref_gated_delta),
        Method("triton_norm", f"Triton kernels (linattn_edu.kernels) C={cc}, normalised, elu+1 fused",
               _triton(True, cc), "linear", max_T={"cpu": 256}),
        Method("triton_unnorm", f"Triton kernels (linattn_edu.kernels) C={cc}, unnormalised, elu+1 fused",
               _triton(False, cc), "unnorm", ref=_ref_unnorm, max_T={"cpu": 256}),
        Method("gated_delta_ref", "Gated DeltaNet, gated_delta.py readable form C=64 (loop over chunks), eager",
               lambda q, k, v, g, b: _gated_delta_chunked_reference(_l2(q), _l2(k), v, b, g, 64)[0],
               "gated_delta", gates="decay_beta", ref=_ref_gated_delta, max_T=big),
    ]
    return ms


def reference(method, q, k, v, *gates):
    """float64 reference of the function `method` computes, on the same inputs upcast (independent forms)."""
    q, k, v = (x.double() for x in (q, k, v))
    if method.ref is not None:
        return method.ref(q, k, v, *(x.double() for x in gates))
    if method.kind == "softmax":
        return lt.softmax_attention(q, k, v, causal=method.causal)
    if not method.causal:
        return lt.linear_attention(q, k, v, PHI)
    if q.shape[-2] <= 4096:
        return lt.kernel_attention(q, k, v, PHI, causal=True)     # the quadratic form
    return lt.linear_attention(q, k, v, PHI, causal=True)          # the cumsum form, O(T m d_v) memory


# ----------------------------------------------------------------------------------------------
# timing
# ----------------------------------------------------------------------------------------------

class Timer:
    def __init__(self, device, budget_s, min_reps=5, max_reps=100):
        self.device, self.budget_s, self.min_reps, self.max_reps = device, budget_s, min_reps, max_reps
        self.flush = torch.empty(256 * 2**20, dtype=torch.int8, device=device) if device.type == "cuda" else None

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def once(self, fn):
        """Wall time of one call (s), synchronised: the warm-up / first-call cost."""
        self.sync()
        t = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - t

    def median_ms(self, fn):
        est = self.once(fn)
        reps = int(min(self.max_reps, max(self.min_reps, math.ceil(self.budget_s / max(est, 1e-6)))))
        if self.device.type == "cuda":
            pairs = []
            for _ in range(reps):
                self.flush.zero_()                                   # L2 flush, outside the events
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                s.record()
                fn()
                e.record()
                pairs.append((s, e))
            torch.cuda.synchronize(self.device)
            times = [s.elapsed_time(e) for s, e in pairs]
        else:
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times), times

    def peak_gib(self, fn):
        if self.device.type != "cuda":
            return None
        self.sync()
        torch.cuda.reset_peak_memory_stats(self.device)
        fn()
        self.sync()
        return torch.cuda.max_memory_allocated(self.device) / 2**30


def make_gates(kind, B, H, T, D, dtype, device, gen):
    """The gate tensors of a method, [B, H, T(, D)]: log-decays in float32, beta in the input dtype."""
    def randn(*shape):
        return torch.randn(*shape, generator=gen, device=device, dtype=torch.float32)
    if kind is None:
        return ()
    if kind == "decay":
        return (F.logsigmoid(randn(B, H, T)),)
    if kind == "decay_pf":
        return (F.logsigmoid(randn(B, H, T, D)) / 16,)                 # GLA's normaliser 16
    if kind == "beta":
        return (torch.sigmoid(randn(B, H, T)).to(dtype),)
    if kind == "decay_beta":
        return (F.logsigmoid(randn(B, H, T)), torch.sigmoid(randn(B, H, T)).to(dtype))
    raise ValueError(f"unknown gates {kind!r}")


def make_inputs(B, H, T, D, dtype, device, seed, layout="bhtd", grad=False, gates=None):
    """q, k, v, dout (and the gates, when `gates` names them) in the method's layout."""
    g = torch.Generator(device=device).manual_seed(seed)
    xs = [torch.randn(B, H, T, D, generator=g, device=device, dtype=torch.float32).to(dtype) for _ in range(4)]
    extra = list(make_gates(gates, B, H, T, D, dtype, device, g))
    if layout == "bthd":
        xs = [x.transpose(1, 2).contiguous() for x in xs]
        extra = [x.transpose(1, 2).contiguous() for x in extra]
    q, k, v, do = xs
    if grad:
        q, k, v = (x.requires_grad_() for x in (q, k, v))
        extra = [x.requires_grad_() for x in extra]
    if gates is None:
        return q, k, v, do
    return q, k, v, do, tuple(extra)


def to_bhtd(x, layout):
    return x.transpose(1, 2) if layout == "bthd" else x


def call(method, mode, q, k, v, do, gates=()):
    if mode == "fwd":
        def run():
            with torch.no_grad():
                return method.fn(q, k, v, *gates)
    else:
        def run():
            out = method.fn(q, k, v, *gates)
            return torch.autograd.grad(out, (q, k, v, *gates), do)
    return run


def inputs_for(method, B, H, T, D, dtype, device, seed, grad=False):
    """(q, k, v, do, gates) for `method`, gates () when it has none."""
    xs = make_inputs(B, H, T, D, dtype, device, seed, method.layout, grad=grad, gates=method.gates)
    return xs if method.gates is not None else (*xs, ())


def rel_err(x, ref):
    x = x.double()
    if not torch.isfinite(x).all():
        return float("inf")
    return float((x - ref).norm() / ref.norm())


def check_correctness(method, B, H, T, D, dtype, device, grads=True, seed=1):
    """Relative errors of out (and dq, dk, dv, d gates) against float64 on the same rounded inputs.

    A method whose backward raises (fla's gated kernels on Hopper with Triton < 3.7.1) keeps its
    output error and records the message under "grad_error"."""
    q, k, v, do, gates = inputs_for(method, B, H, T, D, dtype, device, seed, grad=grads)
    out = method.fn(q, k, v, *gates)
    qd, kd, vd, dod = (to_bhtd(x, method.layout).detach().double().requires_grad_(grads) for x in (q, k, v, do))
    gd = tuple(to_bhtd(x, method.layout).detach().double().requires_grad_(grads) for x in gates)
    ref = reference(method, qd, kd, vd, *gd)
    res = {"method": method.name, "B": B, "H": H, "T": T, "dtype": str(dtype).replace("torch.", ""),
           "err_out": rel_err(to_bhtd(out, method.layout).detach(), ref.detach())}
    if grads:
        try:
            g = torch.autograd.grad(out, (q, k, v, *gates), do)
        except RuntimeError as e:
            res["grad_error"] = str(e).split("\n")[0][:200]
            return res
        g_ref = torch.autograd.grad(ref, (qd, kd, vd, *gd), dod)
        names = ("dq", "dk", "dv") + (("dg", "dbeta") if method.gates == "decay_beta" else
                                      ("dbeta",) if method.gates == "beta" else ("dg",) if method.gates else ())
        for name, a, b in zip(names, g, g_ref):
            res["err_" + name] = rel_err(to_bhtd(a, method.layout), b)
    return res


def cumsum_precision(T_list, device, dtype=torch.bfloat16, B=1, H=2, D=64, seed=2):
    """The cumsum form on bfloat16 inputs with its running state S_t stored in bfloat16 vs in float32.

    The bfloat16 state is what a naive port does; its error grows with T (notebook 10)."""
    rows = []
    for T in T_list:
        q, k, v, _ = make_inputs(B, H, T, D, dtype, device, seed)
        fq, fk = lt.elu_plus_one(q), lt.elu_plus_one(k)
        ref = linear_attention_from_features(fq.double(), fk.double(), v.double(), causal=True)
        for state in (dtype, torch.float32):
            out = linear_attention_from_features(fq, fk, v, causal=True, acc_dtype=state)
            rows.append({"T": T, "state_dtype": str(state).replace("torch.", ""), "err_out": rel_err(out, ref)})
        del q, k, v, fq, fk, ref, out
    return rows


def cumsum_of_ones(device, n=4096, dtype=torch.bfloat16):
    """torch.cumsum of n ones in `dtype` along an outer and along the innermost dimension (last value).

    Exact is n. A kernel that keeps its running total in bf16 stops at 256 (= 2^8: 256 + 1 rounds to 256)."""
    rows = []
    for dev in sorted({device.type, "cpu"}):
        outer = torch.ones(n, 8, dtype=dtype, device=dev).cumsum(0)[-1, 0].item()
        inner = torch.ones(8, n, dtype=dtype, device=dev).cumsum(-1)[0, -1].item()
        rows.append({"device": dev, "n": n, "dtype": str(dtype).replace("torch.", ""),
                     "outer_dim": outer, "innermost_dim": inner})
    return rows


def cuda_kernels_of(fn, device):
    """Names and device time (ms) of the CUDA kernels one call of fn launches (torch.profiler)."""
    fn()
    torch.cuda.synchronize(device)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize(device)
    dev_time = lambda e: getattr(e, "device_time_total", None) or getattr(e, "cuda_time_total", 0) or 0  # noqa: E731
    return [{"kernel": e.key[:160], "ms": dev_time(e) / 1e3} for e in prof.key_averages()
            if e.device_type == torch.autograd.DeviceType.CUDA and dev_time(e) > 0]


GROUPS = ("matmul", "scan", "elementwise", "other")
_SCAN = ("cumsum", "scan", "kernel_h", "_dh", "fwd_h", "recurrent")
_MATMUL = ("gemm", "nvjet", "cutlass", "xmma", "wgmma", "cublas", "trsm", "bmm", "triton_tem", "chunk", "kkt",
           "solve_tril", "inverse", "w_u", "wy", "dqkwg", "fwd_kernel_o", "dot")
_ELEMENTWISE = ("triton_poi", "triton_red", "triton_per", "elementwise", "reduce", "elu", "norm", "copy", "fill",
                "memset", "memcpy", "cat", "index", "where", "softmax")


def kernel_group(name):
    """Which of GROUPS a CUDA kernel belongs to, by its name (torch.profiler's key).

    scan: cumulative sums and state recurrences over chunks (fla's chunk_*_kernel_h / _dh, our
    scan_kernel, inductor kernels fused around a cumsum); matmul: cuBLAS (nvjet, gemm, cutlass, the
    batched triangular solve trsm) and Triton kernels built around tl.dot (fla's and our chunk_* kernels,
    fla's triangular inverse, inductor templates);
    elementwise: inductor's pointwise / reduction kernels and ATen's elementwise, reduction and copy
    kernels. A fused Triton kernel is counted in one group, by what it is built around."""
    n = name.lower()
    if n.startswith(("triton_poi", "triton_red", "triton_per")):      # inductor: fused pointwise / reductions
        return "scan" if "cumsum" in n or "scan" in n else "elementwise"
    for group, keys in (("scan", _SCAN), ("matmul", _MATMUL), ("elementwise", _ELEMENTWISE)):
        if any(key in n for key in keys):
            return group
    return "other"


def sdpa_backend(kernel_names):
    """The SDPA backend that ran, from the names of its CUDA kernels: cudnn, flash, efficient or math."""
    names = " ".join(kernel_names).lower()
    if "cudnn" in names:
        return "cudnn"
    if "flash" in names:
        return "flash"
    if "fmha" in names or "efficient" in names or "mem_eff" in names:
        return "efficient"
    return "math"


def profile(method, mode, T, args, device, top=12):
    """Kernel-time table of one call (3 calls profiled) with torch.profiler: where the time goes."""
    q, k, v, do, gates = inputs_for(method, args.B, args.H, T, args.D, args.dtype, device, seed=T,
                                    grad=(mode == "fwd+bwd"))
    fn = call(method, mode, q, k, v, do, gates)
    fn()
    acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch.profiler.profile(activities=acts) as prof:
        for _ in range(3):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    events = prof.key_averages()
    dev_time = lambda e: getattr(e, "device_time_total", None) or getattr(e, "cuda_time_total", 0) or 0  # noqa: E731
    key = "device_time_total" if device.type == "cuda" else "cpu_time_total"
    try:
        table = events.table(sort_by=key, row_limit=top)
    except Exception:                                   # older torch: the key is cuda_time_total
        table = events.table(sort_by="cuda_time_total", row_limit=top)
    kernels = sorted(((e.key, dev_time(e) / 3e3, e.count // 3) for e in events if dev_time(e) > 0 and e.device_type ==
                      torch.autograd.DeviceType.CUDA), key=lambda r: -r[1])
    total = {"kernel": "(all CUDA kernels)", "ms_per_call": sum(t for _, t, _ in kernels),
             "launches_per_call": sum(c for _, _, c in kernels)}
    groups = {g: {"ms_per_call": 0.0, "launches_per_call": 0} for g in GROUPS}
    for n, t, c in kernels:                             # every kernel, also those beyond `top`
        groups[kernel_group(n)]["ms_per_call"] += t
        groups[kernel_group(n)]["launches_per_call"] += c
    listed = [{"kernel": n[:120], "ms_per_call": t, "launches_per_call": c, "group": kernel_group(n)}
              for n, t, c in kernels[:top]]
    return table, [total] + listed, groups


def compile_cost(args, device, lengths=(4096, 16384, 65536)):
    """First-call wall time (s) of compiled_chunked_linear_attention per new length, dynamic=False vs None.

    Run it in a fresh process with the inductor caches off (TORCHINDUCTOR_FORCE_DISABLE_CACHES=1) to see
    cold compiles: the first call at each length is compile + one run; a second call shows the run alone."""
    rows = []
    timer = Timer(device, args.budget_s)
    for dynamic in (False, None):
        torch._dynamo.reset()
        fast = torch.compile(lt.chunked_linear_attention, dynamic=dynamic)
        m = Method("c", "", lambda q, k, v: fast(q, k, v, PHI, args.compiled_chunk)[0], "linear")
        for T in lengths:
            for mode in MODES:
                q, k, v, do = make_inputs(args.B, args.H, T, args.D, args.dtype, device, seed=T, grad=(mode == "fwd+bwd"))
                fn = call(m, mode, q, k, v, do)
                first = timer.once(fn)
                rows.append({"dynamic": dynamic, "T": T, "mode": mode, "first_call_s": first,
                             "second_call_s": timer.once(fn)})
                print(f"compile cost: dynamic={dynamic} T={T} {mode}: first call {first:.1f} s", flush=True)
    return rows


def ceilings(device):
    """Measured ceilings: device-to-device copy bandwidth and bf16 matmul rate (CUDA only)."""
    timer = Timer(device, budget_s=0.3, min_reps=10)
    x = torch.empty(2**30, dtype=torch.float32, device=device).uniform_()
    y = torch.empty_like(x)
    ms, _ = timer.median_ms(lambda: y.copy_(x))
    copy = 2 * x.numel() * 4 / (ms * 1e-3) / 1e12
    del x, y
    a, b = (torch.randn(8192, 8192, device=device, dtype=torch.bfloat16) for _ in range(2))
    ms, _ = timer.median_ms(lambda: a @ b)
    return {"copy_TBps": copy, "bf16_matmul_TFLOPs": 2 * 8192**3 / (ms * 1e-3) / 1e12}


def versions(device):
    v = {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform()}
    for pkg in ("numpy", "triton", "fla-core", "flash-linear-attention"):
        try:
            v[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    if device.type == "cuda":
        v["cuda"] = torch.version.cuda
        v["cudnn"] = torch.backends.cudnn.version()
        v["gpu"] = torch.cuda.get_device_name(device)
        v["gpu_memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1)
    else:
        v["cpu"] = platform.processor() or platform.machine()
        v["threads"] = torch.get_num_threads()
    return v


# ----------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------

def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default=None, choices=sorted(DTYPES), help="default: bfloat16 on cuda, float32 on cpu")
    p.add_argument("--B", type=int, default=None)
    p.add_argument("--H", type=int, default=None)
    p.add_argument("--D", type=int, default=64)
    p.add_argument("--T", default=None, help="comma-separated lengths (default: 1k..64k on cuda, 256..1024 on cpu)")
    p.add_argument("--methods", default=None, help="comma-separated subset (default: all)")
    p.add_argument("--modes", default="fwd,fwd+bwd")
    p.add_argument("--compiled-chunk", type=int, default=64)
    p.add_argument("--compile-mode", default=None)
    p.add_argument("--compile-dynamic", default="false", choices=["none", "true", "false"],
                   help="torch.compile dynamic= (default false: one compile per shape, the fastest kernels measured; "
                        "none: automatic, recompiles once when T changes)")
    p.add_argument("--compile-cost", action="store_true",
                   help="only measure first-call (compile) cost per new length, dynamic=False vs automatic")
    p.add_argument("--budget-s", type=float, default=None, help="time budget per timed case (default 0.3 cuda, 0.5 cpu)")
    p.add_argument("--max-case-s", type=float, default=20.0, help="skip longer T for a method once one call takes this long")
    p.add_argument("--deadline-s", type=float, default=None, help="stop starting new timed cases after this many s")
    p.add_argument("--end-s", type=float, default=None,
                   help="after this many s skip the remaining correctness checks and profiles (recorded as skipped)")
    p.add_argument("--list-methods", action="store_true", help="print the method names and exit")
    p.add_argument("--check-T", type=int, default=None, help="length of the small correctness check (default 1024 cuda, 256 cpu)")
    p.add_argument("--no-long-check", action="store_true", help="skip the output-error check at the longest T")
    p.add_argument("--no-check", action="store_true", help="skip the float64 correctness checks (e.g. in a warm-up)")
    p.add_argument("--warm-only", action="store_true", help="make every first call (compile, autotune), time nothing")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/local/<device>-<date>.json)")
    p.add_argument("--profile-T", type=int, default=None,
                   help="also profile chunked_compiled and fla_chunk (fwd, fwd+bwd) at this T; tables to <out>.profile.txt")
    p.add_argument("--profile-methods", default="chunked_compiled,chunked_compiled_nfirst,fla_chunk",
                   help="comma-separated methods to profile at --profile-T")
    p.add_argument("--profile-top", type=int, default=12, help="kernels kept per profile in the JSON")
    p.add_argument("--fla-autotune-T", type=int, default=16384,
                   help="first fla call (Triton autotuning, whose key ignores T) at this length; 0: at the sweep's first T")
    p.add_argument("--max-T-recurrent", type=int, default=None, help="longest T for the Python-loop method")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--keep-going", action="store_true", help="record a method's exception as its status and go on")
    a = p.parse_args(argv)
    cuda = a.device.startswith("cuda")
    a.dtype = DTYPES[a.dtype or ("bfloat16" if cuda else "float32")]
    a.B = a.B or (4 if cuda else 1)
    a.H = a.H or (16 if cuda else 4)
    a.T = [int(t) for t in a.T.split(",")] if a.T else ([1024 * 2**i for i in range(7)] if cuda else [256, 512, 1024])
    a.modes = [m for m in a.modes.split(",") if m]
    a.budget_s = a.budget_s or (0.3 if cuda else 0.2)
    a.check_T = a.check_T or (1024 if cuda else 256)
    a.compile_dynamic = {"none": None, "true": True, "false": False}[a.compile_dynamic]
    for m in a.modes:
        if m not in MODES:
            p.error(f"--modes: {m!r} is not one of {MODES}")
    return a


def main(argv=None):
    args = parse(argv)
    device = torch.device(args.device)
    say = (lambda *a: None) if args.quiet else functools.partial(print, flush=True)
    t_start = time.perf_counter()
    try:                                              # sweeping lengths with dynamic=False recompiles per shape
        torch._dynamo.config.recompile_limit = 64
    except AttributeError:
        torch._dynamo.config.cache_size_limit = 64
    methods = make_methods(args)
    if args.list_methods:
        print(",".join(m.name for m in methods))
        return None
    if args.max_T_recurrent:
        next(m for m in methods if m.name == "recurrent").max_T[device.type] = args.max_T_recurrent
    if args.methods:
        wanted = args.methods.split(",")
        unknown = set(wanted) - {m.name for m in methods}
        if unknown:
            raise SystemExit(f"--methods: unknown {sorted(unknown)}; choose from {[m.name for m in methods]}")
        by_name = {m.name: m for m in methods}
        methods = [by_name[n] for n in dict.fromkeys(wanted)]     # in the order given: the sweep's order
    elif device.type == "cpu":                        # GPU-only or compile-heavy methods: name them to run them
        methods = [m for m in methods if m.name in DEFAULT_CPU]
    if any(m.name.startswith("fla_") for m in methods) and not (device.type == "cuda" and fla_available()):
        if device.type != "cuda":
            print("fla_* skipped: flash-linear-attention needs a CUDA device")
        methods = [m for m in methods if not m.name.startswith("fla_")]

    record = {"meta": {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                       "command": "python -m benchmarks.speed " + " ".join(sys.argv[1:] if argv is None else argv),
                       "device": str(device), "dtype": str(args.dtype).replace("torch.", ""),
                       "B": args.B, "H": args.H, "D": args.D, "phi": PHI, "T": args.T,
                       "compiled_chunk": args.compiled_chunk, "compile_mode": args.compile_mode,
                       "compile_dynamic": args.compile_dynamic, "warm_only": args.warm_only,
                       "versions": versions(device),
                       "env": {k: os.environ.get(k) for k in ("FLA_CACHE_RESULTS", "TRITON_CACHE_DIR",
                                                               "TORCHINDUCTOR_CACHE_DIR", "TRITON_INTERPRET")},
                       "timing": "median of >= 5 repeats after one warm-up call; CUDA events with L2 flush "
                                 "(cuda) or perf_counter (cpu); fwd under no_grad; fwd+bwd = forward + "
                                 "autograd.grad wrt q, k, v; peak memory includes inputs"},
              "methods": {m.name: m.label for m in methods},
              "ceilings": None, "results": [], "correctness": [], "precision": []}
    out_path = args.out or os.path.join("benchmarks", "results", "local",
                                        f"{device.type}-{datetime.date.today().isoformat()}.json")

    def save():
        if args.warm_only and not args.out:
            return
        os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
        with open(out_path, "w") as f:
            json.dump(record, f, indent=1)

    timer = Timer(device, args.budget_s)
    if args.compile_cost:
        record["meta"]["inductor_caches_disabled"] = os.environ.get("TORCHINDUCTOR_FORCE_DISABLE_CACHES")
        record["compile_cost"] = compile_cost(args, device)
        save()
        return record
    record["cumsum_ones"] = cumsum_of_ones(device)
    if device.type == "cuda" and not args.warm_only:
        record["ceilings"] = ceilings(device)
        q, k, v, _ = make_inputs(args.B, args.H, 16384, args.D, args.dtype, device, seed=0)
        record["meta"]["sdpa_default_kernels_fwd_16k"] = cuda_kernels_of(lambda: _sdpa(q, k, v), device)
        say("SDPA default backend, kernels of one 16k forward:",
            [r["kernel"][:60] for r in record["meta"]["sdpa_default_kernels_fwd_16k"]])
        q = k = v = None
        say(f"ceilings: copy {record['ceilings']['copy_TBps']:.2f} TB/s, "
            f"bf16 matmul {record['ceilings']['bf16_matmul_TFLOPs']:.0f} TFLOP/s")

    flas = [m for m in methods if m.name.startswith("fla_")]
    record["meta"]["fla_first_calls"] = []
    for fla in (flas if args.fla_autotune_T else []):   # fla's autotuner picks its configs at its first call
        for mode in args.modes:
            q, k, v, do, gates = inputs_for(fla, args.B, args.H, args.fla_autotune_T, args.D, args.dtype, device,
                                            seed=0, grad=(mode == "fwd+bwd"))
            try:
                first = timer.once(call(fla, mode, q, k, v, do, gates))
                msg = f"{first:.1f} s"
            except RuntimeError as e:
                first, msg = None, "refused: " + str(e).split("\n")[0][:160]
            record["meta"]["fla_first_calls"].append({"method": fla.name, "mode": mode, "s": first, "note": msg})
            say(f"{fla.name} {mode}: first call (compile + autotune) at T={args.fla_autotune_T}: {msg}")
        q = k = v = do = gates = None
    record["meta"]["fla_autotune_T"] = args.fla_autotune_T if flas else None

    # --- timed sweep: method by method (most important first), T ascending -----------------------
    for method in methods:
        cap = method.max_T.get(device.type, max(args.T))
        for mode in args.modes:
            stop = None
            for T in args.T:
                row = {"method": method.name, "mode": mode, "T": T, "ms": None, "peak_gib": None, "status": "ok"}
                if T > cap:
                    row["status"] = f"skipped: beyond this method's max T ({cap}) on {device.type}"
                elif stop:
                    row["status"] = "skipped: " + stop
                elif args.deadline_s and time.perf_counter() - t_start > args.deadline_s:
                    row["status"] = "skipped: harness deadline"
                else:
                    try:
                        q, k, v, do, gates = inputs_for(method, args.B, args.H, T, args.D, args.dtype, device,
                                                        seed=T, grad=(mode == "fwd+bwd"))
                        fn = call(method, mode, q, k, v, do, gates)
                        row["first_call_s"] = timer.once(fn)
                        if not args.warm_only:
                            row["ms"], times = timer.median_ms(fn)
                            row["reps"] = len(times)
                            row["ms_min"], row["ms_max"] = min(times), max(times)
                            row["peak_gib"] = timer.peak_gib(fn)
                            row["inputs_gib"] = sum(x.numel() * x.element_size() for x in
                                                    ((q, k, v, do) if mode == "fwd+bwd" else (q, k, v)) + gates) / 2**30
                            if method.kind == "softmax" and device.type == "cuda":   # which SDPA kernel ran
                                names = [r_["kernel"] for r_ in cuda_kernels_of(fn, device)]
                                row["sdpa_backend"] = sdpa_backend(names)
                                row["sdpa_kernels"] = [n for n in names if "sdpa" in n.lower() or "fmha" in n.lower()
                                                       or "flash" in n.lower() or "attention" in n.lower()][:4]
                            if row["ms"] > 1e3 * args.max_case_s:
                                stop = f"previous T took {row['ms']:.0f} ms"
                    except OOM as e:
                        row["status"] = "OOM: " + str(e).split("\n")[0][:160]
                        stop = f"OOM at T={T}"
                    except RuntimeError as e:
                        if "out of memory" in str(e).lower():
                            row["status"] = "OOM: " + str(e).split("\n")[0][:160]
                            stop = f"OOM at T={T}"
                        elif method.name.startswith("fla_"):     # e.g. fla's Hopper/Triton guard on gated backward
                            row["status"] = "refused: " + str(e).split("\n")[0][:200]
                            stop = "fla refused this mode"
                        elif args.keep_going:
                            row["status"] = f"error: {type(e).__name__}: " + str(e).split("\n")[0][:200]
                            stop = f"error at T={T}"
                        else:
                            raise
                    except Exception as e:                          # compile failures etc.: record, go on
                        if not args.keep_going:
                            raise
                        row["status"] = f"error: {type(e).__name__}: " + str(e).split("\n")[0][:200]
                        stop = f"error at T={T}"
                    finally:
                        q = k = v = do = fn = gates = None
                        if device.type == "cuda":
                            torch.cuda.empty_cache()
                record["results"].append(row)
                if row["status"] == "ok":
                    say(f"{method.name:18s} {mode:8s} T={T:6d}  "
                        + (f"{row['ms']:9.3f} ms  peak {row['peak_gib'] if row['peak_gib'] is None else round(row['peak_gib'], 2)} GiB"
                           if row["ms"] is not None else f"first call {row['first_call_s']:.1f} s"))
                else:
                    say(f"{method.name:18s} {mode:8s} T={T:6d}  {row['status']}")
                save()

    # --- correctness against float64, then the profiles, then the long check ---------------------
    def late():
        return args.end_s is not None and time.perf_counter() - t_start > args.end_s

    B_small, H_small = (2, 4) if device.type == "cuda" else (1, 2)
    for method in ([] if args.no_check else methods):
        if args.check_T > method.max_T.get(device.type, args.check_T):
            continue
        if late():
            record["correctness"].append({"method": method.name, "T": args.check_T, "error": "skipped: --end-s"})
            continue
        try:
            res = check_correctness(method, B_small, H_small, args.check_T, args.D, args.dtype, device)
        except Exception as e:
            if not args.keep_going:
                raise
            res = {"method": method.name, "T": args.check_T, "error": f"{type(e).__name__}: {str(e)[:200]}"}
        record["correctness"].append(res)
        save()
    if args.profile_T and not args.warm_only:
        record["profile"] = []
        wanted = args.profile_methods.split(",")
        timed = {(r["method"], r["mode"], r["T"]): r["ms"] for r in record["results"]}
        with open(out_path + ".profile.txt", "w") as f:
            for method in methods:
                if method.name not in wanted:
                    continue
                for mode in args.modes:
                    if late():
                        record["profile"].append({"method": method.name, "mode": mode, "T": args.profile_T,
                                                  "status": "skipped: --end-s"})
                        continue
                    try:
                        table, kernels, groups = profile(method, mode, args.profile_T, args, device,
                                                         top=args.profile_top)
                    except RuntimeError as e:
                        if not (method.name.startswith("fla_") or args.keep_going):
                            raise
                        f.write(f"== {method.name} {mode} T={args.profile_T}: refused: {str(e)[:200]}\n")
                        record["profile"].append({"method": method.name, "mode": mode, "T": args.profile_T,
                                                  "status": "refused: " + str(e).split("\n")[0][:200]})
                        continue
                    f.write(f"== {method.name} {mode} T={args.profile_T} (3 calls)\n{table}\n")
                    ms = timed.get((method.name, mode, args.profile_T))
                    record["profile"].append({"method": method.name, "mode": mode, "T": args.profile_T,
                                              "status": "ok", "kernels": kernels, "groups": groups,
                                              "timed_ms": ms, "launch_gaps_ms": None if ms is None else
                                              ms - kernels[0]["ms_per_call"]})
                    save()
    long_T = max(args.T)
    if not args.warm_only and not late():
        record["precision"] = cumsum_precision(sorted({min(args.T), 4 * min(args.T), min(long_T, 16384)}), device)
    if not (args.no_long_check or args.no_check):
        for method in methods:
            if method.kind == "softmax" or method.name in ("quadratic", "recurrent", "cumsum") or \
                    method.max_T.get(device.type, long_T) < long_T:
                continue
            if late():
                record["correctness"].append({"method": method.name, "T": long_T, "error": "skipped: --end-s"})
                continue
            try:
                res = check_correctness(method, 1, 2, long_T, args.D, args.dtype, device, grads=False)
            except Exception as e:
                if not args.keep_going:
                    raise
                res = {"method": method.name, "T": long_T, "error": f"{type(e).__name__}: {str(e)[:200]}"}
            record["correctness"].append(res)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            save()
    record["meta"]["wall_s"] = time.perf_counter() - t_start
    save()
    if not args.quiet and not args.warm_only:
        print_tables(record)
        print(f"\nwrote {out_path}  ({record['meta']['wall_s']:.0f} s)")
    return record


def print_tables(record):
    rows = record["results"]
    Ts = sorted({r["T"] for r in rows})
    names = list(dict.fromkeys(r["method"] for r in rows))
    for mode in MODES:
        if not any(r["mode"] == mode for r in rows):
            continue
        for what, key, fmt in (("time, ms (median)", "ms", "{:9.3f}"), ("peak memory, GiB", "peak_gib", "{:9.2f}")):
            if key == "peak_gib" and all(r["peak_gib"] is None for r in rows):
                continue
            print(f"\n{mode}: {what}   [{record['meta']['dtype']}, B={record['meta']['B']} H={record['meta']['H']} "
                  f"D={record['meta']['D']}, {record['meta']['versions'].get('gpu', record['meta']['device'])}]")
            print(f"{'method':24s}" + "".join(f"{T:>10d}" for T in Ts))
            for name in names:
                cells = []
                for T in Ts:
                    r = next((r for r in rows if r["method"] == name and r["mode"] == mode and r["T"] == T), None)
                    if r is None or r[key] is None:
                        cells.append(f"{'OOM' if r and r['status'].startswith('OOM') else '-':>10s}")
                    else:
                        cells.append(" " + fmt.format(r[key]))
                print(f"{name:24s}" + "".join(cells))
    if record["correctness"]:
        print("\ncorrectness: relative error vs float64 on the same inputs")
        keys = ("err_out", "err_dq", "err_dk", "err_dv", "err_dg", "err_dbeta")
        print(f"{'method':24s}{'B,H,T':>16s}" + "".join(f"{k[4:]:>10s}" for k in keys))
        for c in record["correctness"]:
            if "error" in c:
                print(f"{c['method']:24s} T={c['T']}: {c['error'][:100]}")
                continue
            e = [f"{c[k]:10.2e}" if k in c else f"{'-':>10s}" for k in keys]
            print(f"{c['method']:24s}{c['B']:>6d},{c['H']:>3d},{c['T']:>6d}" + "".join(e)
                  + (f"  backward: {c['grad_error'][:60]}" if "grad_error" in c else ""))
    for r in record.get("cumsum_ones", []):
        print(f"bf16 cumsum of {r['n']} ones on {r['device']}: outer dim {r['outer_dim']}, innermost {r['innermost_dim']}")
    if record["precision"]:
        print("\ncumsum form on bfloat16 inputs: running state in bfloat16 vs float32 (relative error of out)")
        for p in record["precision"]:
            print(f"  T={p['T']:6d}  state {p['state_dtype']:9s} {p['err_out']:.2e}")


if __name__ == "__main__":
    main()
