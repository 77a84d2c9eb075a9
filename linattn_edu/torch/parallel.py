"""Context (sequence) parallelism: each rank holds a contiguous slice of the sequence; only states cross.

Every causal form in this package is a fold over the sequence, and a slice of the sequence acts on the
state that enters it as an *affine map*:

    plain    (S, z) -> (S + S_r, z + z_r)        S_r = phi(K_r)^T V_r,  z_r = phi(K_r)^T 1
    decay    S -> a_r * S + B_r                  a_r = prod_t a_t (scalar or per feature), B_r: slice from S = 0
    delta    S -> A_r S + B_r                    A_r = prod_t (I - beta_t k_t k_t^T) (d_k x d_k), B_r as above

so the state entering slice r is the exclusive scan  S_in_r = T_{r-1}( ... T_0(S_init)),  and the output of
slice r is the single-device form run on the slice with ``state=S_in_r``. Two ways to do the scan:

* ``method="allgather"``: one collective, every rank receives every slice map (P maps) and composes
  the ones before it locally (``all_gather`` in a small autograd Function: its backward is an all-reduce);
* ``method="ring"``: a pipeline, rank r waits for S_in_r from rank r - 1, applies its own map and sends
  S_in_{r+1} on: P - 1 sends in all, one state per link; the backward pass runs the same chain in
  reverse (a small autograd Function around ``send``/``recv``).

The state after the whole sequence is returned on every rank (all-gather: composed locally; ring:
broadcast from the last rank). Softmax attention cannot do this: a query needs every earlier key
itself, so ring attention moves the whole KV cache (2 n_r d values per rank per hop) instead of one
(m x d_v) state.

Works with any backend (``gloo`` on the CPU, ``nccl`` on GPUs). Every rank must back-propagate through its
own output (the collectives' backward passes are tied to it), as in any data- or sequence-parallel step.
"""
import torch
import torch.distributed as dist

from . import causal as _causal, gating as _gating, delta_rule as _delta
from .reassociation import accumulation_dtype, _features

__all__ = ["chunked_linear_attention", "decayed_linear_attention", "delta_rule_attention",
           "linear_slice_map", "decay_slice_map", "delta_slice_map", "apply_map",
           "state_bytes", "ring_attention_bytes", "spawn"]

METHODS = ("allgather", "ring")


# ---------------------------------------------------------------------------------------------------
# The slice maps and how they compose
# ---------------------------------------------------------------------------------------------------

def _apply(kind, A, B, S):
    """T(S) = A S + B for one slice.  kind: 'add' (A unused), 'scale' (A: (...,) or (..., d_k)), 'matrix'."""
    if kind == "add":
        return S + B
    if kind == "scale":
        return (A[..., None, None] if A.dim() == B.dim() - 2 else A[..., :, None]) * S + B
    return A @ S + B                                                  # (..., d_k, d_k) @ (..., d_k, d_v)


def _flatten_state(S, z):
    """(S: (..., m, d_v), z: (..., m)) -> (..., m, d_v + 1), so the plain form's pair travels as one tensor."""
    return torch.cat([S, z[..., None]], dim=-1)


def _unflatten_state(X):
    return X[..., :-1], X[..., -1]


# ---------------------------------------------------------------------------------------------------
# The exclusive scan over ranks, two ways
# ---------------------------------------------------------------------------------------------------

def _group_info(group):
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError("linattn_edu.torch.parallel needs torch.distributed initialised "
                           "(torch.distributed.init_process_group(backend='gloo' or 'nccl', ...))")
    return dist.get_rank(group), dist.get_world_size(group)


def _scan_allgather(kind, A, B, S_init, group, anchor):
    """(S_in of this rank, S_final), composing every rank's gathered (A, B) locally."""
    rank, P = _group_info(group)
    Bs = _AllGather.apply(B, anchor, group)                           # (P, ...) every slice's B
    As = _AllGather.apply(A, anchor, group) if kind != "add" else [None] * P
    S, S_in = S_init, None
    for r in range(P):
        if r == rank:
            S_in = S
        S = _apply(kind, As[r], Bs[r], S)
    return S_in, S


class _AllGather(torch.autograd.Function):
    """forward: every rank's x, stacked (P, ...).  backward: dL/dx_r = sum over ranks j of dL_j/dx_r
    (an all-reduce of the stacked gradients, then this rank's row)."""

    @staticmethod
    def forward(ctx, x, anchor, group):
        ctx.group, ctx.rank = group, dist.get_rank(group)
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, x.contiguous(), group=group)
        return torch.stack(parts)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad[ctx.rank], None, None


class _Broadcast(torch.autograd.Function):
    """forward: src's x on every rank.  backward: the sum of every rank's gradient, to src only."""

    @staticmethod
    def forward(ctx, x, anchor, src_global, group):
        ctx.group, ctx.is_src = group, dist.get_rank() == src_global
        y = x.detach().clone().contiguous()
        dist.broadcast(y, src=src_global, group=group)
        return y

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        return (grad if ctx.is_src else torch.zeros_like(grad)), None, None, None


class _RecvFromPrevious(torch.autograd.Function):
    """forward: receive S_in from rank - 1.  backward: send dL/dS_in back to rank - 1."""

    @staticmethod
    def forward(ctx, anchor, like, prev_global):
        ctx.prev = prev_global
        S_in = torch.empty_like(like)
        dist.recv(S_in, src=prev_global)
        return S_in

    @staticmethod
    def backward(ctx, grad):
        dist.send(grad.contiguous(), dst=ctx.prev)
        return None, None, None


class _SendToNext(torch.autograd.Function):
    """forward: send S_out to rank + 1, return a zero to add to the output (it ties the backward in).
    backward: receive dL/dS_out from rank + 1 (it is dL/dS_in there)."""

    @staticmethod
    def forward(ctx, S_out, anchor, next_global):
        ctx.next, ctx.shape, ctx.dtype, ctx.device = next_global, S_out.shape, S_out.dtype, S_out.device
        dist.send(S_out.detach().contiguous(), dst=next_global)
        return S_out.new_zeros(())

    @staticmethod
    def backward(ctx, _):
        grad = torch.empty(ctx.shape, dtype=ctx.dtype, device=ctx.device)
        dist.recv(grad, src=ctx.next)
        return grad, None, None


def _anchor(inputs):
    """A zero that depends on every local input. Every collective takes it as an input, so that a backward
    pass asked for the gradient of any one input (torch.autograd.grad prunes the other branches) still
    runs every collective's backward on every rank, and no rank waits for one that skipped it."""
    parts = [x.sum() * 0 for x in inputs if isinstance(x, torch.Tensor) and x.requires_grad]
    return sum(parts) if parts else torch.zeros(())


def _scan_ring(kind, A, B, S_init, group, anchor):
    """(S_in, S_final, tie): S_in from the previous rank; tie is a zero scalar to add to the output."""
    rank, P = _group_info(group)
    glob = (lambda r: dist.get_global_rank(group, r)) if group is not None else (lambda r: r)
    S_in = S_init if rank == 0 else _RecvFromPrevious.apply(anchor, S_init, glob(rank - 1))
    S_out = _apply(kind, A, B, S_in)
    tie = _SendToNext.apply(S_out, anchor, glob(rank + 1)) if rank < P - 1 else S_out.new_zeros(())
    S_final = _Broadcast.apply(S_out, anchor, glob(P - 1), group)
    return S_in, S_final, tie


def _scan(kind, A, B, S_init, group, method, inputs=()):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS} (got {method!r})")
    anchor = _anchor(inputs).to(B.device)
    if method == "allgather":
        S_in, S_final = _scan_allgather(kind, A, B, S_init, group, anchor)
        tie = None
    else:
        S_in, S_final, tie = _scan_ring(kind, A, B, S_init, group, anchor)
    # Every collective must run its backward on every rank, whichever of (out, state) a rank's loss uses:
    # a zero that depends on the final state, added to the output, puts them all on the output's path.
    tie_final = (S_final * 0).sum()
    return S_in, S_final, tie_final if tie is None else tie + tie_final


def _tie(out, tie):
    return out + tie.to(out.dtype)


# ---------------------------------------------------------------------------------------------------
# The slice maps, on one process: T_r(S) = A_r S + B_r (what each rank contributes)
# ---------------------------------------------------------------------------------------------------

def linear_slice_map(phi_k, v):
    """Plain form: B_r = [phi(K_r)^T V_r | phi(K_r)^T 1]  (..., m, d_v + 1); A_r = I (nothing to send)."""
    acc = accumulation_dtype(v.dtype)
    pk = phi_k.to(acc)
    return None, _flatten_state(pk.transpose(-1, -2) @ v.to(acc), pk.sum(-2))


def decay_slice_map(k, v, log_decay, per_feature):
    """Decayed form: a_r = exp(sum_t log a_t), B_r = sum_t (prod_{s > t} a_s) k_t v_t^T.

    k: (..., n_r, d_k), v: (..., n_r, d_v), log_decay: (..., n_r) or (..., n_r, d_k) ->
    a_r: (...,) or (..., d_k), B_r: (..., d_k, d_v). Every weight prod_{s>t} a_s is <= 1 (no overflow).
    """
    acc = accumulation_dtype(v.dtype)
    ld = log_decay.to(acc)
    axis = -2 if per_feature else -1
    L = ld.cumsum(axis)                                                       # inclusive prefix of log a_t
    L_end = ld.sum(axis)                                                      # log a_r (0 for an empty slice)
    w = torch.exp((L_end[..., None, :] if per_feature else L_end[..., None]) - L)   # prod_{s > t} a_s
    kw = k.to(acc) * (w if per_feature else w[..., None])                     # (..., n_r, d_k)
    return torch.exp(L_end), kw.transpose(-1, -2) @ v.to(acc)


def delta_slice_map(q, k, v, beta, chunk_size=None):
    """Delta rule: the recurrence is affine in S, so its map is read off the single-device form:
    B_r = final state from S = 0;  A_r = prod_t (I - beta_t k_t k_t^T) = final state from S = I with v = 0."""
    acc = accumulation_dtype(v.dtype)
    batch, d_k = k.shape[:-2], k.shape[-1]
    eye = torch.eye(d_k, dtype=acc, device=v.device).expand(*batch, d_k, d_k)
    _, B = _delta.delta_rule_attention(q, k, v, beta, chunk_size)
    _, A = _delta.delta_rule_attention(q, k, torch.zeros_like(k), beta, chunk_size, state=eye)
    return A.to(acc), B.to(acc)


def apply_map(kind, A, B, S):
    """T(S) = A S + B.  kind: 'add' (A = I), 'scale' (A: (...,) or (..., d_k) decays), 'matrix' (A: (..., d_k, d_k))."""
    return _apply(kind, A, B, S)


# ---------------------------------------------------------------------------------------------------
# The three forms
# ---------------------------------------------------------------------------------------------------

def chunked_linear_attention(q_local, k_local, v_local, phi, chunk_size=64, state=None, group=None, method="allgather"):
    """Sequence-parallel ``chunked_linear_attention``: rank r holds tokens [n_0 + ... + n_{r-1}, ... + n_r).

    q_local, k_local: (..., n_r, d), v_local: (..., n_r, d_v); slices may differ in length (n_r >= 0).
    state: the (S, z) entering the whole sequence (the same on every rank) or None.
    Returns (out_local, (S, z)): this rank's slice of the single-device output and the state after the
    whole sequence. What crosses ranks: (S_r, z_r) = (phi(K_r)^T V_r, phi(K_r)^T 1), (..., m, d_v + 1).
    """
    phi_q, phi_k = _features(q_local, k_local, v_local, phi, causal=True)
    acc = accumulation_dtype(v_local.dtype)
    S0, z0 = _causal._initial_state(state, phi_k.shape[:-2], phi_k.shape[-1], v_local.shape[-1], acc, v_local.device)
    _, B = linear_slice_map(phi_k, v_local)                                    # (..., m, d_v + 1)
    X_in, X_final, tie = _scan("add", None, B, _flatten_state(S0, z0), group, method,
                                (q_local, k_local, v_local, state and state[0], state and state[1]))
    S_in, z_in = _unflatten_state(X_in)
    out, _ = _causal.chunked_from_features(phi_q, phi_k, v_local, int(chunk_size), S_in, z_in)
    return _tie(out, tie), _unflatten_state(X_final)


def decayed_linear_attention(q_local, k_local, v_local, log_decay_local, chunk_size=None, state=None, group=None,
                             method="allgather"):
    """Sequence-parallel ``decayed_linear_attention`` (S_t = a_t S_{t-1} + k_t v_t^T, o_t = S_t^T q_t).

    log_decay_local: (..., n_r) or (..., n_r, d_k). What crosses ranks: (a_r, B_r) with
    a_r = exp(sum_t log a_t) and B_r = sum_t exp(sum_{s > t} log a_s) k_t v_t^T (the slice from S = 0).
    """
    per_feature = _gating._validate(q_local, k_local, v_local, log_decay_local, chunk_size, state)
    acc = accumulation_dtype(v_local.dtype)
    batch, d_k, d_v = k_local.shape[:-2], k_local.shape[-1], v_local.shape[-1]
    S0 = torch.zeros(*batch, d_k, d_v, dtype=acc, device=v_local.device) if state is None else state.to(acc)
    a, B = decay_slice_map(k_local, v_local, log_decay_local, per_feature)
    S_in, S_final, tie = _scan("scale", a, B, S0, group, method, (q_local, k_local, v_local, log_decay_local, state))
    out, _ = _gating.decayed_linear_attention(q_local, k_local, v_local, log_decay_local, chunk_size, state=S_in)
    return _tie(out, tie), S_final


def delta_rule_attention(q_local, k_local, v_local, beta_local, chunk_size=None, state=None, group=None,
                         method="allgather"):
    """Sequence-parallel ``delta_rule_attention`` (S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T).

    The slice map S -> A_r S + B_r is read off the single-device form itself, since the recurrence is
    affine in S: B_r is the final state from S = 0, and A_r the final state from S = I with v = 0.
    What crosses ranks: (A_r, B_r), (..., d_k, d_k) and (..., d_k, d_v).
    """
    _delta._validate(q_local, k_local, v_local, beta_local, chunk_size, state)
    acc = accumulation_dtype(v_local.dtype)
    batch, d_k, d_v = k_local.shape[:-2], k_local.shape[-1], v_local.shape[-1]
    S0 = torch.zeros(*batch, d_k, d_v, dtype=acc, device=v_local.device) if state is None else state.to(acc)
    A, B = delta_slice_map(q_local, k_local, v_local, beta_local, chunk_size)
    S_in, S_final, tie = _scan("matrix", A, B, S0, group, method, (q_local, k_local, v_local, beta_local, state))
    out, _ = _delta.delta_rule_attention(q_local, k_local, v_local, beta_local, chunk_size, state=S_in)
    return _tie(out, tie), S_final


# ---------------------------------------------------------------------------------------------------
# What crosses the wire
# ---------------------------------------------------------------------------------------------------

def state_bytes(form, P, batch_heads, d_k, d_v, bytes_per_value=4, method="allgather", m=None):
    """Bytes one rank *receives* for the exclusive scan over P ranks (forward pass).

    form: 'linear' (m x (d_v + 1) per slice; m defaults to d_k), 'decay' (d_k x d_v plus d_k decays,
    per-feature), 'delta' (d_k x d_k plus d_k x d_v). allgather: P - 1 slice maps; ring: one state
    (the final-state broadcast not counted). Independent of the sequence length.
    """
    m = d_k if m is None else m
    per_map = {"linear": m * (d_v + 1), "decay": d_k * d_v + d_k, "delta": d_k * d_k + d_k * d_v}[form]
    per_state = {"linear": m * (d_v + 1), "decay": d_k * d_v, "delta": d_k * d_v}[form]
    count = (P - 1) * per_map if method == "allgather" else per_state
    return batch_heads * count * bytes_per_value


def ring_attention_bytes(n, P, batch_heads, d, d_v=None, bytes_per_value=2):
    """Bytes one rank receives in ring attention for softmax: the K and V blocks of the other P - 1 ranks."""
    d_v = d if d_v is None else d_v
    return batch_heads * (P - 1) * (n // P) * (d + d_v) * bytes_per_value


# ---------------------------------------------------------------------------------------------------
# Running P processes on one machine (tests, notebook 12, benchmarks)
# ---------------------------------------------------------------------------------------------------

def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world_size, port, backend, fn, args, result_dir):
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group(backend, rank=rank, world_size=world_size)
    try:
        if backend == "nccl":
            torch.cuda.set_device(rank)
        result = fn(rank, world_size, *args)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    torch.save(result, os.path.join(result_dir, f"rank{rank}.pt"))


def spawn(fn, world_size, *args, backend="gloo", timeout=600):
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` fresh processes joined by ``backend``.

    Returns the list of the ranks' return values. ``fn`` must be importable (defined in a module, not
    in a notebook), as the processes are started with the 'spawn' method. Local addresses only.
    A run longer than ``timeout`` seconds (a deadlock, say) is ended with TimeoutError.
    """
    import tempfile

    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as result_dir:
        import os
        import time

        context = mp.start_processes(_worker, args=(world_size, _free_port(), backend, fn, args, result_dir),
                                     nprocs=world_size, join=False, start_method="spawn")
        deadline = time.monotonic() + timeout
        while not context.join(timeout=1):
            if time.monotonic() > deadline:
                for proc in context.processes:
                    proc.kill()
                raise TimeoutError(f"{world_size} processes running {getattr(fn, '__name__', fn)} did not finish in {timeout} s")

        return [torch.load(os.path.join(result_dir, f"rank{r}.pt"), weights_only=False) for r in range(world_size)]
