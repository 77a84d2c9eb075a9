"""The check that context parallelism changes nothing: run on P ranks, compare with one device.

``compare(rank, P, form, method, lengths, ...)`` is what each of P processes runs (through
``linattn_edu.torch.parallel.spawn``): every rank builds the same full inputs from one seed, computes
the single-device output, final state and gradients itself, then the parallel version on its own slice,
and returns the largest differences. Used by tests/test_parallel.py and notebook 12.
"""
import torch

from . import parallel
from .causal import chunked_linear_attention
from .delta_rule import delta_rule_attention
from .feature_maps import elu_plus_one
from .gating import decayed_linear_attention

FORMS = ("linear", "decay", "decay_per_feature", "delta")


def make_inputs(form, n, batch=(2,), d_k=6, d_v=5, seed=0, dtype=torch.float64):
    """q, k, v and the form's gate (None, log_decay or beta) for the whole sequence, from one seed."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, n, d_k, generator=g, dtype=dtype)
    k = torch.randn(*batch, n, d_k, generator=g, dtype=dtype)
    v = torch.randn(*batch, n, d_v, generator=g, dtype=dtype)
    if form == "linear":
        gate = None
    elif form == "decay":
        gate = -torch.rand(*batch, n, generator=g, dtype=dtype) * 0.3          # a_t in (e^-0.3, 1]
    elif form == "decay_per_feature":
        gate = -torch.rand(*batch, n, d_k, generator=g, dtype=dtype) * 0.3
    elif form == "delta":
        k = torch.nn.functional.normalize(k, dim=-1)                          # ||k|| = 1, beta in (0, 1)
        gate = torch.rand(*batch, n, generator=g, dtype=dtype)
    else:
        raise ValueError(f"form must be one of {FORMS} (got {form!r})")
    return q, k, v, gate


def initial_state(form, batch=(2,), d_k=6, d_v=5, seed=0, dtype=torch.float64):
    """A state to hand in (the state hand-off): (S, z) for the plain form, S for the others."""
    g = torch.Generator().manual_seed(seed + 7)
    S = torch.randn(*batch, d_k, d_v, generator=g, dtype=dtype)
    return (S, torch.rand(*batch, d_k, generator=g, dtype=dtype) + 1.0) if form == "linear" else S


def _single(form, q, k, v, gate, chunk_size, state=None):
    if form == "linear":
        out, (S, z) = chunked_linear_attention(q, k, v, elu_plus_one, chunk_size or 64, state=state)
        return out, torch.cat([S, z[..., None]], -1)
    if form == "delta":
        return delta_rule_attention(q, k, v, gate, chunk_size, state=state)
    return decayed_linear_attention(q, k, v, gate, chunk_size, state=state)


def _parallel(form, q, k, v, gate, chunk_size, method, state=None):
    if form == "linear":
        out, (S, z) = parallel.chunked_linear_attention(q, k, v, elu_plus_one, chunk_size or 64, state=state, method=method)
        return out, torch.cat([S, z[..., None]], -1)
    if form == "delta":
        return parallel.delta_rule_attention(q, k, v, gate, chunk_size, state=state, method=method)
    return parallel.decayed_linear_attention(q, k, v, gate, chunk_size, state=state, method=method)


def _leaves(*xs):
    return [None if x is None else x.detach().clone().requires_grad_(True) for x in xs]


def compare(rank, P, form, method, lengths, chunk_size=4, seed=0, with_state=False):
    """Largest |parallel - single device| over this rank's outputs, the final state and the gradients."""
    assert len(lengths) == P, (lengths, P)
    n = sum(lengths)
    q, k, v, gate = make_inputs(form, n, seed=seed)
    start = sum(lengths[:rank])
    sl = slice(start, start + lengths[rank])
    g = torch.Generator().manual_seed(seed + 1)
    g_out = torch.randn(v.shape, generator=g, dtype=v.dtype)
    # reference, on the whole sequence
    state = initial_state(form, seed=seed) if with_state else None
    leaves = _leaves(q, k, v, gate)
    out, S = _single(form, *leaves, chunk_size, state)
    g_S = torch.randn(S.shape, generator=g, dtype=S.dtype)
    ((out * g_out).sum() + (S * g_S).sum()).backward()
    cut = lambda x: x[..., sl, :] if x.dim() == q.dim() else x[..., sl]      # (..., n, d) or a gate (..., n)
    ref_grads = [None if x is None else cut(x.grad) for x in leaves]
    # parallel, on this rank's slice; the state term counted once in total over the P ranks
    local = _leaves(*[None if x is None else cut(x) for x in (q, k, v, gate)])
    out_l, S_l = _parallel(form, *local, chunk_size, method, state)
    ((out_l * g_out[..., sl, :]).sum() + (S_l * g_S).sum() / P).backward()
    errors = {"out": (out_l - out[..., sl, :]).abs().max().item() if lengths[rank] else 0.0,
              "state": (S_l - S).abs().max().item()}
    for name, x, ref in zip(("dq", "dk", "dv", "dgate"), local, ref_grads):
        if x is not None and x.numel():
            errors[name] = (x.grad - ref).abs().max().item()
    return errors


def compare_many(rank, P, cases):
    """compare(...) for each case (a dict of its keyword arguments); one process group for them all."""
    return [compare(rank, P, **case) for case in cases]


def grad_of_q_only(rank, P, form, method, lengths, chunk_size=4, seed=0):
    """torch.autograd.grad of the outputs alone with respect to q alone (autograd prunes every other
    branch): the collectives must still run on every rank. Returns the largest |dq - dq_single|."""
    n = sum(lengths)
    q, k, v, gate = make_inputs(form, n, seed=seed)
    start = sum(lengths[:rank])
    sl = slice(start, start + lengths[rank])
    g_out = torch.randn(v.shape, generator=torch.Generator().manual_seed(seed + 1), dtype=v.dtype)
    q_ref = q.detach().clone().requires_grad_(True)
    out, _ = _single(form, q_ref, k, v, gate, chunk_size)
    (dq_ref,) = torch.autograd.grad((out * g_out).sum(), q_ref)
    cut = lambda x: None if x is None else (x[..., sl, :] if x.dim() == q.dim() else x[..., sl])
    q_l = cut(q).detach().clone().requires_grad_(True)
    k_l, v_l, gate_l = (None if x is None else cut(x).detach().clone().requires_grad_(True) for x in (k, v, gate))
    out_l, _ = _parallel(form, q_l, k_l, v_l, gate_l, chunk_size, method)
    (dq,) = torch.autograd.grad((out_l * g_out[..., sl, :]).sum(), q_l)
    return (dq - dq_ref[..., sl, :]).abs().max().item() if lengths[rank] else 0.0


def grad_of_q_only_many(rank, P, cases):
    return [grad_of_q_only(rank, P, **case) for case in cases]


def received_bytes(rank, P, form, method, lengths, chunk_size=4, seed=0):
    """Bytes this rank receives in one forward pass, counted at the torch.distributed calls themselves
    (all_gather: the P - 1 parts from other ranks; recv; broadcast on non-source ranks)."""
    import torch.distributed as dist

    counted = {"bytes": 0}
    real = {name: getattr(dist, name) for name in ("all_gather", "recv", "broadcast")}

    def all_gather(parts, x, group=None):
        counted["bytes"] += (len(parts) - 1) * x.numel() * x.element_size()
        return real["all_gather"](parts, x, group=group)

    def recv(x, src=None, **kw):
        counted["bytes"] += x.numel() * x.element_size()
        return real["recv"](x, src=src, **kw)

    def broadcast(x, src, group=None):
        if dist.get_rank() != src:
            counted["bytes_final_state"] = counted.get("bytes_final_state", 0) + x.numel() * x.element_size()
        return real["broadcast"](x, src=src, group=group)

    n = sum(lengths)
    q, k, v, gate = make_inputs(form, n, seed=seed, dtype=torch.float32)
    start = sum(lengths[:rank])
    sl = slice(start, start + lengths[rank])
    cut = lambda x: None if x is None else (x[..., sl, :] if x.dim() == q.dim() else x[..., sl])
    try:
        dist.all_gather, dist.recv, dist.broadcast = all_gather, recv, broadcast
        with torch.no_grad():
            _parallel(form, cut(q), cut(k), cut(v), cut(gate), chunk_size, method)
    finally:
        dist.all_gather, dist.recv, dist.broadcast = real["all_gather"], real["recv"], real["broadcast"]
    return counted


def received_bytes_many(rank, P, cases):
    return [received_bytes(rank, P, **case) for case in cases]
