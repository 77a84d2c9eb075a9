"""An approximation audit of linear attention on a trained model (notebook 11).

Two halves:

* backend-free (NumPy): row metrics between a softmax attention row p and an approximation p̂,
  and the classification of a head from its softmax attention maps;

      TV(p, p̂)      = ½ Σ_j |p_j − p̂_j|            (0: same row, 1: disjoint; p̂ may be signed, e.g. Linformer)
      H(p)          = −Σ_j p_j log p_j             (nats; the row's entropy, ≤ log(i+1) for causal row i)
      overlap_k     = |top_k(p) ∩ top_k(p̂)| / k    (k capped by the row's length i + 1)
      out_err       = ‖(p − p̂) V‖ / ‖p V‖          (the error the next layer sees)

* torch (imported when called): every linear method as an attention function for the model and as
  the (n, n) matrix of weights it implies, both built from the library's own functions.

Head types (rules on maps A: (N, n, n) of N windows, tokens x: (N, n); thresholds are module constants):

    previous-token  mean_i A[i, i-1] >= PREV_MIN
    induction       mean attention to j+1 over earlier matches of the current bigram
                    (x[j-1], x[j]) = (x[i-1], x[i]) is >= INDUCTION_MIN and >= INDUCTION_RATIO x chance
    diffuse         mean normalised entropy H(A[i]) / log(i+1) >= DIFFUSE_MIN_ENTROPY (near uniform)
    positional      the map hardly depends on the text: mean TV between a window's row and the
                    row averaged over windows <= POSITIONAL_MAX_TV
    content         none of the above: sharp, text-dependent attention of another kind
The rules are applied in this order; the first that holds names the head.
"""
import numpy as np

__all__ = ["total_variation", "entropy", "topk_overlap", "output_error", "row_metrics",
           "head_scores", "classify_head", "HEAD_TYPES",
           "method_names", "method_attention", "method_weights", "head_swap_attention"]

PREV_MIN = 0.5
INDUCTION_MIN = 0.3
INDUCTION_RATIO = 3.0
POSITIONAL_MAX_TV = 0.25
DIFFUSE_MIN_ENTROPY = 0.7
SKIP_ROWS = 8           # rows i < SKIP_ROWS have too few keys to tell the types apart; scores skip them
HEAD_TYPES = ("previous-token", "induction", "positional", "diffuse", "content")


def _rows(p, name):
    p = np.asarray(p, dtype=float)
    if p.ndim < 1:
        raise ValueError(f"{name} must be an array of rows (..., n) (got a scalar)")
    return p


def total_variation(p, p_hat):
    """½ Σ_j |p_j − p̂_j| over the last axis.  p, p̂: (..., n) -> (...)."""
    p, p_hat = _rows(p, "p"), _rows(p_hat, "p_hat")
    if p.shape != p_hat.shape:
        raise ValueError(f"p and p_hat must have the same shape (got p: {p.shape}, p_hat: {p_hat.shape})")
    return 0.5 * np.abs(p - p_hat).sum(-1)


def entropy(p):
    """−Σ p log p over the last axis, in nats (0 log 0 = 0).  p: (..., n) -> (...)."""
    p = _rows(p, "p")
    if np.any(p < 0):
        raise ValueError("p must be non-negative (a probability row)")
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(-1)


def topk_overlap(p, p_hat, k, lengths=None):
    """|top_k(p) ∩ top_k(p̂)| / k per row; lengths (...) caps k per row (causal row i: i + 1 keys).

    Only the first lengths[r] entries of row r are ranked. p, p̂: (..., n) -> (...), values in [0, 1].
    """
    p, p_hat = _rows(p, "p"), _rows(p_hat, "p_hat")
    if p.shape != p_hat.shape:
        raise ValueError(f"p and p_hat must have the same shape (got p: {p.shape}, p_hat: {p_hat.shape})")
    if not (isinstance(k, (int, np.integer)) and k >= 1):
        raise ValueError(f"k must be a positive integer (got k = {k!r})")
    n = p.shape[-1]
    lengths = np.full(p.shape[:-1], n) if lengths is None else np.broadcast_to(np.asarray(lengths), p.shape[:-1])
    if np.any(lengths < 1) or np.any(lengths > n):
        raise ValueError(f"lengths must lie in [1, n = {n}]")
    valid = np.arange(n) < lengths[..., None]                                   # (..., n)
    kk = np.minimum(k, lengths)                                                 # (...)
    # rank by value, invalid entries last; ties broken by position (stable sort)
    rank_p = np.argsort(np.argsort(np.where(valid, -p, np.inf), axis=-1, kind="stable"), axis=-1, kind="stable")
    rank_q = np.argsort(np.argsort(np.where(valid, -p_hat, np.inf), axis=-1, kind="stable"), axis=-1, kind="stable")
    top_p, top_q = rank_p < kk[..., None], rank_q < kk[..., None]
    return (top_p & top_q).sum(-1) / kk


def output_error(p, p_hat, v):
    """‖(p − p̂) v‖ / ‖p v‖ per row.  p, p̂: (..., n_q, n), v: (..., n, d_v) -> (..., n_q)."""
    p, p_hat, v = _rows(p, "p"), _rows(p_hat, "p_hat"), np.asarray(v, dtype=float)
    if v.shape[-2] != p.shape[-1]:
        raise ValueError(f"v must be (..., n, d_v) with n = {p.shape[-1]} keys (got v: {v.shape})")
    ref = np.linalg.norm(p @ v, axis=-1)
    return np.linalg.norm((p - p_hat) @ v, axis=-1) / np.where(ref > 0, ref, 1.0)


def row_metrics(A, A_hat, v, k=4):
    """All row metrics of causal maps A, Â: (..., n, n) with values v: (..., n, d_v).

    Returns a dict of (..., n) arrays: tv, out_err, overlap (top-k), entropy (of A's rows),
    norm_entropy (H / log(i+1), nan at i = 0), future_mass (Σ_{j>i} |Â_ij|: mass a non-causal
    method puts on tokens the model may not see).
    """
    A, A_hat = _rows(A, "A"), _rows(A_hat, "A_hat")
    n = A.shape[-1]
    if A.shape[-2:] != (n, n) or A_hat.shape != A.shape:
        raise ValueError(f"A and A_hat must be (..., n, n) maps of one shape (got A: {A.shape}, A_hat: {A_hat.shape})")
    lengths = np.broadcast_to(np.arange(1, n + 1), A.shape[:-1])
    H = entropy(A)
    with np.errstate(divide="ignore", invalid="ignore"):
        norm_H = np.where(lengths > 1, H / np.log(np.maximum(lengths, 2)), np.nan)
    future = np.abs(np.triu(A_hat, 1)).sum(-1)
    return dict(tv=total_variation(A, A_hat), out_err=output_error(A, A_hat, v),
                overlap=topk_overlap(A, A_hat, k, lengths), entropy=H, norm_entropy=norm_H, future_mass=future)


# ---------------------------------------------------------------- head types

def head_scores(A, tokens):
    """The four scores the type rules read, from one head's maps A: (N, n, n) and tokens: (N, n).

    prev: mean A[i, i-1]; induction: mean over rows with a bigram match of the attention on the
    matches' successors; chance: what uniform attention would give on the same rows; positional_tv:
    mean TV between a window's row and the across-window mean row; norm_entropy: mean H(A[i])/log(i+1).
    All means over rows i >= SKIP_ROWS.
    """
    A = np.asarray(A, dtype=float)
    tokens = np.asarray(tokens)
    if A.ndim != 3 or A.shape[1] != A.shape[2]:
        raise ValueError(f"A must be (N, n, n) attention maps of one head (got {A.shape})")
    N, n, _ = A.shape
    if tokens.shape != (N, n):
        raise ValueError(f"tokens must be (N, n) = {(N, n)} (got {tokens.shape})")
    if n <= SKIP_ROWS + 1:
        raise ValueError(f"need n > {SKIP_ROWS + 1} positions to score a head (got n = {n})")
    rows = np.arange(SKIP_ROWS, n)
    prev = A[:, rows, rows - 1].mean()
    ind_mass, ind_chance = [], []
    for w in range(N):
        x = tokens[w]
        for i in rows:
            j = np.arange(1, i - 1)                                  # earlier bigrams end at j, successor j+1 < i
            match = j[(x[j] == x[i]) & (x[j - 1] == x[i - 1])]
            if match.size:
                ind_mass.append(A[w, i, match + 1].sum())
                ind_chance.append(match.size / (i + 1))
    induction = float(np.mean(ind_mass)) if ind_mass else 0.0
    chance = float(np.mean(ind_chance)) if ind_chance else 0.0
    mean_map = A.mean(0, keepdims=True)
    positional_tv = total_variation(A[:, rows], np.broadcast_to(mean_map[:, rows], A[:, rows].shape)).mean()
    norm_H = (entropy(A[:, rows]) / np.log(rows + 1)).mean()
    return dict(prev=float(prev), induction=induction, chance=chance, positional_tv=float(positional_tv),
                norm_entropy=float(norm_H), induction_rows=len(ind_mass))


def classify_head(scores):
    """The head type named by the first rule that holds (see the module docstring)."""
    if scores["prev"] >= PREV_MIN:
        return "previous-token"
    if scores["induction"] >= INDUCTION_MIN and scores["induction"] >= INDUCTION_RATIO * scores["chance"]:
        return "induction"
    if scores["norm_entropy"] >= DIFFUSE_MIN_ENTROPY:
        return "diffuse"
    if scores["positional_tv"] <= POSITIONAL_MAX_TV:
        return "positional"
    return "content"


# ---------------------------------------------------------------- the methods (torch, library functions)

DECAY = 0.95            # the decay method's gamma: weight gamma^(i-j) on key j from query i
LINFORMER_K = 32        # Linformer's projected length


def method_names(favor_m=(16, 64, 256)):
    return ["elu+1", *(f"favor+ m={m}" for m in favor_m), "taylor", f"linformer k={LINFORMER_K}", f"decay {DECAY}"]


def _parse(name):
    if name == "elu+1" or name == "taylor":
        return name, None
    kind, _, arg = name.partition(" ")
    if kind in ("favor+", "linformer") and "=" in arg:
        return kind, int(arg.split("=")[1])
    if kind == "decay":
        return kind, float(arg)
    raise ValueError(f"unknown method {name!r}; use one of {method_names()} (any m / k / gamma)")


def _projection(kind, arg, d, n, seed, like):
    import torch
    from . import torch as lt
    if kind == "favor+":
        return lt.gaussian_projection(arg, d, orthogonal=True, seed=seed, dtype=like.dtype)
    g = torch.Generator().manual_seed(seed)
    return torch.randn(arg, n, generator=g, dtype=like.dtype) / arg ** 0.5            # E: (k, n), E E^T ≈ I


def method_attention(name, seed=0):
    """f(q, k, v) -> out for the model, q, k, v: (B, H, n, d); the method named ``name``.

    The kernel methods run the quadratic form kernel_attention (at n = 128 it is the cheapest form and
    equals the linear form; notebooks 02-03 prove that). elu+1: elu_plus_one features; favor+ m=M:
    positive_features with M block-orthogonal rows on q, k scaled by d^(-1/4) (performer_attention's
    estimate without its overflow guard); taylor: kernel_attention with taylor_features on q, k scaled by d^(-1/4)
    (so φ(q)·φ(k) = 1 + s + s²/2 with s the softmax logit q·k/√d); linformer k=K: linformer_attention
    with E = F Gaussian (K, n)/√K -- NOT causal: it mixes future tokens, so its loss is not a valid
    language-model loss; decay G: elu+1 features with weight G^(i-j), decayed_linear_attention with
    a column of ones appended to v to carry the normaliser.
    """
    import functools
    import math

    import torch
    from . import torch as lt
    kind, arg = _parse(name)

    def f(q, k, v):
        d, n = q.shape[-1], q.shape[-2]
        if kind == "elu+1":
            return lt.kernel_attention(q, k, v, lt.elu_plus_one, causal=True)
        if kind == "taylor":
            c = d ** -0.25
            return lt.kernel_attention(q * c, k * c, v, lt.taylor_features, causal=True)
        if kind == "favor+":
            c, w = d ** -0.25, _projection(kind, arg, d, n, seed, q)
            return lt.kernel_attention(q * c, k * c, v, functools.partial(lt.positive_features, w=w), causal=True)
        if kind == "linformer":
            E = _projection(kind, arg, d, n, seed, q)
            return lt.linformer_attention(q, k, v, E, E)
        ones = torch.ones(*v.shape[:-1], 1, dtype=v.dtype)
        log_decay = torch.full(v.shape[:-1], math.log(arg), dtype=v.dtype)
        out, _ = lt.decayed_linear_attention(lt.elu_plus_one(q), lt.elu_plus_one(k), torch.cat([v, ones], -1),
                                             log_decay, chunk_size=32)
        return out[..., :-1] / out[..., -1:]
    f.__name__ = name
    return f


def method_weights(name, q, k, seed=0):
    """The (..., n, n) weights the method puts on each key: the method applied to v = I (identity)."""
    import torch
    n = q.shape[-2]
    eye = torch.eye(n, dtype=q.dtype).expand(*q.shape[:-2], n, n)
    if name == "softmax":
        from . import torch as lt
        return lt.attention_weights(q, k, causal=True)
    return method_attention(name, seed)(q, k, eye)


def head_swap_attention(layer_fn, head):
    """An attention function that is softmax for every head except ``head``, which runs ``layer_fn``."""
    from .lm import softmax_causal

    def f(q, k, v):
        out = softmax_causal(q, k, v).clone()                       # (B, H, n, d)
        out[:, head] = layer_fn(q[:, head:head + 1], k[:, head:head + 1], v[:, head:head + 1])[:, 0]
        return out
    return f
