"""Causal linear attention in Triton: the chunkwise equations of notebook 03, one kernel per step.

Notation (notebook 03, linattn_edu.torch.causal): C = chunk_size, N = ceil(n / C) chunks, [c] the
tokens of chunk c, phi = elu + 1 (fused: computed in registers from q and k, never stored), m = d.

    forward                                                       kernel (grid)
    H_[c] = phi(K_[c])^T V_[c],  h_[c] = phi(K_[c])^T 1           chunk_sums_kernel      (BH, N)
    S_[c] = S_0 + sum_{c'<c} H_[c'],  z_[c] likewise               scan_kernel            (BH, tiles)
    A_[c] = tril(phi(Q_[c]) phi(K_[c])^T)
    num_[c] = phi(Q_[c]) S_[c] + A_[c] V_[c]
    den_[c] = phi(Q_[c]) z_[c] + A_[c] 1                          chunk_output_kernel    (BH, N)
    out_[c] = num_[c] / den_[c]        (normalise=False: out = num)

    backward (G = dL/d out; per row i: dnum_i = G_i / den_i, dden_i = -(G_i . out_i) / den_i)
    dS_[c] = phi(Q_[c])^T dnum_[c],  dz_[c] = phi(Q_[c])^T dden_[c]   chunk_state_grads_kernel (BH, N)
    dH_[c] = dS_T + sum_{c'>c} dS_[c']   (the same scan, reversed)     scan_kernel
    dA = tril(dnum V^T + dden 1^T)
    dphi(Q) = dnum S^T + dden z^T + dA phi(K)
    dphi(K) = dA^T phi(Q) + V dH^T + 1 dh^T
    dV = A^T dnum + phi(K) dH                                        chunk_input_grads_kernel (BH, N)
    dq = dphi(Q) * phi'(q),  phi'(x) = 1 for x > 0, exp(x) otherwise

Layout: q, k: (BH, n, d), v, out: (BH, n, d_v) contiguous, BH = prod(batch dims). The per-chunk
states H, S, dS, dH: (BH, N, d, d_v) and h, z, dz, dh: (BH, N, d) in float32. Every product and sum
runs in float32 inside the kernels (tl.dot on float32 tiles: TF32 on a GPU for 16-bit inputs, full
float32 for float32 inputs, see _precision; exact float32 in the interpreter); the output is rounded once to v.dtype. Tiles are padded to powers of two (at least 16,
what tl.dot needs) and masked: padded tokens and features have phi = 0, so they add nothing.

Memory traffic of the forward: q, k, v are read twice (chunk sums, output), H and S written and read
once each ((BH, N, d, d_v) float32: at C = 64, d = d_v = 64 that is 4 bytes * 64 per token, 2x the
bf16 q/k/v/o bytes), out written once. Notebook 13 counts it against the memory floor.
"""
import math

import torch
import triton
import triton.language as tl

from .._checks import check_state

PHI = ("elu_plus_one",)


@triton.jit
def _phi(x):
    """elu(x) + 1 = x + 1 for x > 0, exp(x) otherwise (as linattn_edu.torch.feature_maps)."""
    return tl.where(x > 0, x + 1.0, tl.exp(tl.minimum(x, 0.0)))


@triton.jit
def _dphi(x):
    """phi'(x) = 1 for x > 0, exp(x) otherwise."""
    return tl.where(x > 0, 1.0, tl.exp(tl.minimum(x, 0.0)))


@triton.jit
def _tile_ptrs(ptr, bh, c, n, width, C: tl.constexpr, BW: tl.constexpr):
    """Pointers and mask of chunk c of a (BH, n, width) tensor: a (C, BW) tile."""
    rows = c * C + tl.arange(0, C)                                    # (C,) token index
    cols = tl.arange(0, BW)                                           # (BW,) feature index
    ptrs = ptr + bh * n * width + rows[:, None] * width + cols[None, :]
    mask = (rows[:, None] < n) & (cols[None, :] < width)
    return ptrs, mask


@triton.jit
def _state_ptrs(ptr, bh, c, N, d, d_v, BD: tl.constexpr, BDV: tl.constexpr):
    """Pointers and mask of S_[c] in a (BH, N, d, d_v) tensor: a (BD, BDV) tile."""
    r = tl.arange(0, BD)
    s = tl.arange(0, BDV)
    ptrs = ptr + ((bh * N + c) * d + r[:, None]) * d_v + s[None, :]
    return ptrs, (r[:, None] < d) & (s[None, :] < d_v)


@triton.jit
def _vec_ptrs(ptr, bh, c, N, d, BD: tl.constexpr):
    """Pointers and mask of z_[c] in a (BH, N, d) tensor: a (BD,) vector."""
    r = tl.arange(0, BD)
    return ptr + (bh * N + c) * d + r, r < d


@triton.jit
def _load_features(Q, K, V, bh, c, n, d, d_v, C: tl.constexpr, BD: tl.constexpr, BDV: tl.constexpr):
    """phi(Q_[c]), phi(K_[c]): (C, BD) and V_[c]: (C, BDV) in float32; zero outside the sequence."""
    pq, mq = _tile_ptrs(Q, bh, c, n, d, C, BD)
    pk, mk = _tile_ptrs(K, bh, c, n, d, C, BD)
    pv, mv = _tile_ptrs(V, bh, c, n, d_v, C, BDV)
    fq = tl.where(mq, _phi(tl.load(pq, mask=mq, other=0.0).to(tl.float32)), 0.0)   # (C, BD)
    fk = tl.where(mk, _phi(tl.load(pk, mask=mk, other=0.0).to(tl.float32)), 0.0)   # (C, BD)
    v = tl.load(pv, mask=mv, other=0.0).to(tl.float32)                             # (C, BDV)
    return fq, fk, v


@triton.jit
def _scores(fq, fk, C: tl.constexpr, P: tl.constexpr):
    """A_[c] = tril(phi(Q) phi(K)^T): (C, C); row i sees keys j <= i of its chunk."""
    i = tl.arange(0, C)
    A = tl.dot(fq, tl.trans(fk), input_precision=P)                   # (C, BD) @ (BD, C)
    return tl.where(i[:, None] >= i[None, :], A, 0.0)


@triton.jit
def chunk_sums_kernel(K, V, H, h, n, N, d, d_v,
                      C: tl.constexpr, BD: tl.constexpr, BDV: tl.constexpr, P: tl.constexpr):
    """H_[c] = phi(K_[c])^T V_[c]: (d, d_v) and h_[c] = phi(K_[c])^T 1: (d,). Grid (BH, N)."""
    bh, c = tl.program_id(0), tl.program_id(1)
    pk, mk = _tile_ptrs(K, bh, c, n, d, C, BD)
    pv, mv = _tile_ptrs(V, bh, c, n, d_v, C, BDV)
    fk = tl.where(mk, _phi(tl.load(pk, mask=mk, other=0.0).to(tl.float32)), 0.0)   # (C, BD)
    v = tl.load(pv, mask=mv, other=0.0).to(tl.float32)                             # (C, BDV)
    ph, mh = _state_ptrs(H, bh, c, N, d, d_v, BD, BDV)
    tl.store(ph, tl.dot(tl.trans(fk), v, input_precision=P), mask=mh)  # (BD, C) @ (C, BDV)
    pz, mz = _vec_ptrs(h, bh, c, N, d, BD)
    tl.store(pz, tl.sum(fk, axis=0), mask=mz)                         # (BD,)


@triton.jit
def scan_kernel(X, X0, Out, Final, N, F, REVERSE: tl.constexpr, BLOCK: tl.constexpr):
    """Exclusive scan over chunks with the running sum kept on chip. Grid (BH, cdiv(F, BLOCK)).

    X: (BH, N, F) per-chunk sums, X0: (BH, F) start. Forward (REVERSE=False):
    Out[c] = X0 + sum_{c'<c} X[c'] (S_[c] from H, z_[c] from h). REVERSE=True:
    Out[c] = X0 + sum_{c'>c} X[c'] (dH_[c] from dS, with X0 = dS_T). Final = X0 + sum_c X[c].
    """
    bh, tile = tl.program_id(0), tl.program_id(1)
    f = tile * BLOCK + tl.arange(0, BLOCK)                            # (BLOCK,) flattened (d * d_v) index
    mask = f < F
    run = tl.load(X0 + bh * F + f, mask=mask, other=0.0)              # (BLOCK,) float32, never leaves chip
    for i in range(N):
        if REVERSE:
            c = N - 1 - i
        else:
            c = i
        tl.store(Out + (bh * N + c) * F + f, run, mask=mask)          # exclusive: before adding chunk c
        run += tl.load(X + (bh * N + c) * F + f, mask=mask, other=0.0)
    tl.store(Final + bh * F + f, run, mask=mask)


@triton.jit
def chunk_output_kernel(Q, K, V, S, z, O, Den, n, N, d, d_v, NORMALISE: tl.constexpr,
                        C: tl.constexpr, BD: tl.constexpr, BDV: tl.constexpr, P: tl.constexpr):
    """out_[c] = (phi(Q) S_[c] + A V) / (phi(Q) z_[c] + A 1): (C, d_v); stores den: (C,). Grid (BH, N)."""
    bh, c = tl.program_id(0), tl.program_id(1)
    fq, fk, v = _load_features(Q, K, V, bh, c, n, d, d_v, C, BD, BDV)
    A = _scores(fq, fk, C, P)                                            # (C, C)
    ps, ms = _state_ptrs(S, bh, c, N, d, d_v, BD, BDV)
    S_c = tl.load(ps, mask=ms, other=0.0)                             # (BD, BDV)
    num = tl.dot(fq, S_c, input_precision=P) + tl.dot(A, v, input_precision=P)    # (C, BDV): inter + intra
    out = num
    if NORMALISE:
        pz, mz = _vec_ptrs(z, bh, c, N, d, BD)
        z_c = tl.load(pz, mask=mz, other=0.0)                         # (BD,)
        den = tl.sum(fq * z_c[None, :], axis=1) + tl.sum(A, axis=1)   # (C,)
        out = tl.where(den[:, None] != 0, num / tl.where(den != 0, den, 1.0)[:, None], 0.0)   # 0/0 -> 0
        rows = c * C + tl.arange(0, C)
        tl.store(Den + bh * n + rows, den, mask=rows < n)
    po, mo = _tile_ptrs(O, bh, c, n, d_v, C, BDV)
    tl.store(po, out.to(O.dtype.element_ty), mask=mo)


@triton.jit
def _output_grads(O, Den, dO, bh, c, n, d_v, NORMALISE: tl.constexpr, C: tl.constexpr, BDV: tl.constexpr):
    """dnum = G / den: (C, BDV) and dden = -(G . out) / den: (C,) (unnormalised: dnum = G, dden = 0)."""
    pg, mg = _tile_ptrs(dO, bh, c, n, d_v, C, BDV)
    G = tl.load(pg, mask=mg, other=0.0).to(tl.float32)                # (C, BDV)
    if NORMALISE:
        po, mo = _tile_ptrs(O, bh, c, n, d_v, C, BDV)
        out = tl.load(po, mask=mo, other=0.0).to(tl.float32)
        rows = c * C + tl.arange(0, C)
        den = tl.load(Den + bh * n + rows, mask=rows < n, other=0.0)
        inv = tl.where(den != 0, 1.0 / tl.where(den != 0, den, 1.0), 0.0)   # (C,), 0 on padded rows
        return G * inv[:, None], -tl.sum(G * out, axis=1) * inv
    return G, tl.zeros([C], dtype=tl.float32)


@triton.jit
def chunk_state_grads_kernel(Q, O, Den, dO, dS, dz, n, N, d, d_v, NORMALISE: tl.constexpr,
                             C: tl.constexpr, BD: tl.constexpr, BDV: tl.constexpr, P: tl.constexpr):
    """dS_[c] = phi(Q)^T dnum: (d, d_v), dz_[c] = phi(Q)^T dden: (d,), what S_[c], z_[c] receive. Grid (BH, N)."""
    bh, c = tl.program_id(0), tl.program_id(1)
    pq, mq = _tile_ptrs(Q, bh, c, n, d, C, BD)
    fq = tl.where(mq, _phi(tl.load(pq, mask=mq, other=0.0).to(tl.float32)), 0.0)   # (C, BD)
    dnum, dden = _output_grads(O, Den, dO, bh, c, n, d_v, NORMALISE, C, BDV)
    ps, ms = _state_ptrs(dS, bh, c, N, d, d_v, BD, BDV)
    tl.store(ps, tl.dot(tl.trans(fq), dnum, input_precision=P), mask=ms)   # (BD, C) @ (C, BDV)
    pz, mz = _vec_ptrs(dz, bh, c, N, d, BD)
    tl.store(pz, tl.sum(fq * dden[:, None], axis=0), mask=mz)         # (BD,)


@triton.jit
def chunk_input_grads_kernel(Q, K, V, S, z, O, Den, dO, dH, dh, dQ, dK, dV, n, N, d, d_v,
                             NORMALISE: tl.constexpr, C: tl.constexpr, BD: tl.constexpr,
                             BDV: tl.constexpr, P: tl.constexpr):
    """dq, dk: (C, d) and dv: (C, d_v) of chunk c, from the output grads and dH_[c], dh_[c]. Grid (BH, N)."""
    bh, c = tl.program_id(0), tl.program_id(1)
    fq, fk, v = _load_features(Q, K, V, bh, c, n, d, d_v, C, BD, BDV)
    A = _scores(fq, fk, C, P)                                            # (C, C)
    dnum, dden = _output_grads(O, Den, dO, bh, c, n, d_v, NORMALISE, C, BDV)
    ps, ms = _state_ptrs(S, bh, c, N, d, d_v, BD, BDV)
    pz, mz = _vec_ptrs(z, bh, c, N, d, BD)
    i = tl.arange(0, C)
    dA = tl.where(i[:, None] >= i[None, :],
                  tl.dot(dnum, tl.trans(v), input_precision=P) + dden[:, None], 0.0)           # (C, C)
    dfq = (tl.dot(dnum, tl.trans(tl.load(ps, mask=ms, other=0.0)), input_precision=P)
           + tl.dot(dA, fk, input_precision=P))                                          # (C, BD)
    if NORMALISE:
        dfq += dden[:, None] * tl.load(pz, mask=mz, other=0.0)[None, :]
    ph, mh = _state_ptrs(dH, bh, c, N, d, d_v, BD, BDV)
    dH_c = tl.load(ph, mask=mh, other=0.0)                            # (BD, BDV)
    pdh, mdh = _vec_ptrs(dh, bh, c, N, d, BD)
    dfk = (tl.dot(tl.trans(dA), fq, input_precision=P) + tl.dot(v, tl.trans(dH_c), input_precision=P)
           + tl.load(pdh, mask=mdh, other=0.0)[None, :])
    dv = tl.dot(tl.trans(A), dnum, input_precision=P) + tl.dot(fk, dH_c, input_precision=P)   # (C, BDV)
    pq, mq = _tile_ptrs(Q, bh, c, n, d, C, BD)
    pk, mk = _tile_ptrs(K, bh, c, n, d, C, BD)
    pv, mv = _tile_ptrs(V, bh, c, n, d_v, C, BDV)
    dq = dfq * _dphi(tl.load(pq, mask=mq, other=0.0).to(tl.float32))  # chain rule through phi
    dk = dfk * _dphi(tl.load(pk, mask=mk, other=0.0).to(tl.float32))
    tl.store(_tile_ptrs(dQ, bh, c, n, d, C, BD)[0], dq.to(dQ.dtype.element_ty), mask=mq)
    tl.store(_tile_ptrs(dK, bh, c, n, d, C, BD)[0], dk.to(dK.dtype.element_ty), mask=mk)
    tl.store(_tile_ptrs(dV, bh, c, n, d_v, C, BDV)[0], dv.to(dV.dtype.element_ty), mask=mv)


def _precision(q):
    """tl.dot's input precision: TF32 on float32 tiles for 16-bit inputs (their own rounding is coarser),
    full float32 ("ieee") when the caller passed float32: float32 in, float32 accuracy out."""
    return "tf32" if q.dtype in (torch.float16, torch.bfloat16) else "ieee"


def _block(x):
    return max(16, triton.next_power_of_2(x))


def _scan(X, X0, reverse, block=1024):
    """Exclusive scan of X: (BH, N, F) over chunks from X0: (BH, F); returns (per-chunk, final)."""
    BH, N, F = X.shape
    out, final = torch.empty_like(X), torch.empty_like(X0)
    block = min(block, triton.next_power_of_2(F))
    scan_kernel[(BH, triton.cdiv(F, block))](X, X0, out, final, N, F, REVERSE=reverse, BLOCK=block)
    return out, final


def forward(q, k, v, S0, z0, chunk_size, normalise):
    """q, k: (BH, n, d), v: (BH, n, d_v), S0: (BH, d, d_v), z0: (BH, d) float32, all contiguous.
    Returns out (BH, n, d_v), den (BH, n), S (BH, N, d, d_v), z (BH, N, d), S_T, z_T."""
    BH, n, d = q.shape
    d_v, C = v.shape[-1], chunk_size
    N = triton.cdiv(n, C)
    BD, BDV = _block(d), _block(d_v)
    H = torch.empty(BH, N, d, d_v, dtype=torch.float32, device=q.device)
    h = torch.empty(BH, N, d, dtype=torch.float32, device=q.device)
    chunk_sums_kernel[(BH, N)](k, v, H, h, n, N, d, d_v, C=C, BD=BD, BDV=BDV, P=_precision(q))
    S, S_T = _scan(H.view(BH, N, d * d_v), S0.reshape(BH, d * d_v), reverse=False)
    z, z_T = _scan(h, z0, reverse=False)
    S = S.view(BH, N, d, d_v)
    out = torch.empty_like(v)
    den = torch.empty(BH, n, dtype=torch.float32, device=q.device)
    chunk_output_kernel[(BH, N)](q, k, v, S, z, out, den, n, N, d, d_v, NORMALISE=normalise,
                                 C=C, BD=BD, BDV=BDV, P=_precision(q))
    return out, den, S, z, S_T.view(BH, d, d_v), z_T


def backward(q, k, v, S, z, out, den, dout, dS_T, dz_T, chunk_size, normalise):
    """Gradients (dq, dk, dv, dS0, dz0) of forward's (out, S_T, z_T) given dout, dS_T, dz_T."""
    BH, n, d = q.shape
    d_v, C = v.shape[-1], chunk_size
    N = S.shape[1]
    BD, BDV = _block(d), _block(d_v)
    dS = torch.empty_like(S)
    dz = torch.empty_like(z)
    chunk_state_grads_kernel[(BH, N)](q, out, den, dout, dS, dz, n, N, d, d_v, NORMALISE=normalise,
                                      C=C, BD=BD, BDV=BDV, P=_precision(q))
    dH, dS0 = _scan(dS.view(BH, N, d * d_v), dS_T.reshape(BH, d * d_v), reverse=True)
    dh, dz0 = _scan(dz, dz_T, reverse=True)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    chunk_input_grads_kernel[(BH, N)](q, k, v, S, z, out, den, dout, dH.view(BH, N, d, d_v), dh,
                                      dq, dk, dv, n, N, d, d_v, NORMALISE=normalise, C=C, BD=BD, BDV=BDV,
                                      P=_precision(q))
    return dq, dk, dv, dS0.view(BH, d, d_v), dz0


class LinearAttentionFunction(torch.autograd.Function):
    """(q, k, v, S0, z0) -> (out, S_T, z_T) on flattened contiguous inputs (see forward)."""

    @staticmethod
    def forward(ctx, q, k, v, S0, z0, chunk_size, normalise):
        out, den, S, z, S_T, z_T = forward(q, k, v, S0, z0, chunk_size, normalise)
        ctx.save_for_backward(q, k, v, S, z, out, den)
        ctx.chunk_size, ctx.normalise = chunk_size, normalise
        return out, S_T, z_T

    @staticmethod
    def backward(ctx, dout, dS_T, dz_T):
        q, k, v, S, z, out, den = ctx.saved_tensors
        dout = torch.zeros_like(out) if dout is None else dout.contiguous()
        dS_T = torch.zeros_like(S[:, 0]) if dS_T is None else dS_T.float().contiguous()
        dz_T = torch.zeros_like(z[:, 0]) if dz_T is None else dz_T.float().contiguous()
        dq, dk, dv, dS0, dz0 = backward(q, k, v, S, z, out, den, dout, dS_T, dz_T,
                                        ctx.chunk_size, ctx.normalise)
        return dq, dk, dv, dS0, dz0, None, None


def chunked_linear_attention(q, k, v, phi="elu_plus_one", chunk_size=64, state=None, normalise=True):
    """Triton causal linear attention, same signature as linattn_edu.torch.chunked_linear_attention.

    q, k: (..., n, d), v: (..., n, d_v); phi must be "elu_plus_one" (fused into the kernels);
    chunk_size a power of two >= 16 (tl.dot's smallest tile); any n. normalise=False drops the
    denominator (fla's normalize=False). Returns (out (..., n, d_v) in v.dtype, (S (..., d, d_v),
    z (..., d)) in float32). Differentiable in q, k, v and the state.
    """
    if phi not in PHI:
        raise ValueError(f"phi must be one of {PHI} (the feature map is fused into the kernel), got {phi!r}")
    if not (isinstance(chunk_size, int) and chunk_size >= 16 and chunk_size & (chunk_size - 1) == 0):
        raise ValueError(f"chunk_size must be a power of two >= 16 (tl.dot tiles), got {chunk_size!r}")
    if q.ndim < 2 or q.shape != k.shape or q.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"q, k must be (..., n, d) and v (..., n, d_v) with the same (..., n); got "
                         f"q: {tuple(q.shape)}, k: {tuple(k.shape)}, v: {tuple(v.shape)}")
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k, v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    *batch, n, d = q.shape
    d_v = v.shape[-1]
    check_state(state, tuple(batch), d, d_v, "torch")
    BH = math.prod(batch)
    if state is None:
        S0 = torch.zeros(BH, d, d_v, dtype=torch.float32, device=q.device)
        z0 = torch.zeros(BH, d, dtype=torch.float32, device=q.device)
    else:
        S0 = state[0].to(device=q.device, dtype=torch.float32).reshape(BH, d, d_v).contiguous()
        z0 = state[1].to(device=q.device, dtype=torch.float32).reshape(BH, d).contiguous()
    if n == 0:
        return v.new_zeros(*batch, 0, d_v), (S0.reshape(*batch, d, d_v), z0.reshape(*batch, d))
    flat = [x.reshape(BH, n, x.shape[-1]).contiguous() for x in (q, k, v)]
    out, S_T, z_T = LinearAttentionFunction.apply(*flat, S0, z0, chunk_size, bool(normalise))
    return out.reshape(*batch, n, d_v), (S_T.reshape(*batch, d, d_v), z_T.reshape(*batch, d))
