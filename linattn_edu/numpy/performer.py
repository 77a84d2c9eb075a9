"""FAVOR+ (Performer): softmax attention estimated with random features, never forming the (n, n) matrix.

    softmax_attention(q, k, v) ≈ D^-1 phi(q') (phi(k')^T v),   q' = q d^{-1/4},  k' = k d^{-1/4}

so that exp(q'.k') = exp(q.k / sqrt(d)), the softmax kernel with the usual 1/sqrt(d) scale.

Stabiliser: before exp, the largest exponent is subtracted, per row for queries (a factor c_i that
multiplies numerator and denominator of row i alike) and once over all keys and features for keys
(one factor c for the whole sequence). Both cancel exactly in D^-1 (...), so the estimator is unchanged
while exp stays <= 1. In causal mode the key constant is taken over the whole sequence, a look-ahead:
with eps = 0 it cancels, so a later key changes earlier outputs only by rounding (notebook 05 checks
< 1e-12), and with eps > 0 it leaks (notebook 05 measures the leak). Because w.k - |k|^2/2 <= |w|^2/2,
a later key can raise the constant to at most max_i |w_i|^2/2; an early prefix then underflows only if
its exponents lie ~87 (float32) or ~708 (float64) below that, which notebook 05 does not show. The
constant is the maximum over the finite exponents, so a NaN or inf in a later key leaves it (and the
earlier outputs) alone. eps > 0 adds eps to every feature after stabilisation and after the 1/sqrt(m) factor;
that biases the estimate toward uniform attention. The default eps = 0 keeps the estimator as in the
paper. (performer-pytorch adds its eps before the 1/sqrt(m) factor and shifts keys by max(w.k) without
the -|k|^2/2 term, so the same eps value there is not the same bias.)

Where it cannot be avoided: after stabilisation every feature is <= 1, but a product phi(q)_i phi(k)_i
can still underflow when q and k are long and point to different features (|q|, |k| d^-1/4 in the tens:
float32 underflows below exp(-87), float64 below exp(-708)). The row's normaliser is then tiny or 0;
a row with normaliser exactly 0 returns 0 (not NaN), a denormal one loses precision. Such rows mean the
estimator itself has broken down (Lemma 2's variance grows like exp(|q + k|^2)); notebook 05 shows it.

kind="trig" uses trig features, which can be negative: a row's normaliser can then be near 0 or
negative and the output unbounded (the paper's reason for positive features). It is offered to show
exactly that; no stabiliser can fix it.
"""
import numpy as np

from .._checks import check_qkv, check_causal_lengths, check_projection, check_eps, check_causal
from .reassociation import linear_attention_from_features

KINDS = ("positive", "hyperbolic", "trig")


def _finite_max(x, axes):
    """max of x over axes, ignoring NaN and inf (0 where there is nothing finite, e.g. n = 0)."""
    top = np.where(np.isfinite(x), x, -np.inf).max(axis=axes, keepdims=True, initial=-np.inf)
    return np.where(np.isfinite(top), top, 0.0)


def _stabilised_features(x, w, kind, is_query, eps):
    """phi(x) times a positive constant (per row for queries, global for keys), without overflow."""
    m = w.shape[0]
    half_sq = 0.5 * np.sum(x * x, axis=-1, keepdims=True)                # |x|^2/2, (..., n, 1)
    wx = x @ w.T                                                          # (..., n, m)
    if kind == "trig":
        # phi = exp(|x|^2/2) [sin, cos] / sqrt(m); subtract max |x|^2/2 (row-wise for q, global for k)
        shift = half_sq if is_query else _finite_max(half_sq, (-2, -1))
        return np.exp(half_sq - shift) * np.concatenate([np.sin(wx), np.cos(wx)], axis=-1) / np.sqrt(m)
    if kind == "positive":
        expo = wx - half_sq
        scale = 1.0 / np.sqrt(m)
    else:                                                                 # hyperbolic
        expo = np.concatenate([wx, -wx], axis=-1) - half_sq
        scale = 1.0 / np.sqrt(2 * m)
    axes = (-1,) if is_query else (-2, -1)
    expo = expo - _finite_max(expo, axes)                                 # stabiliser, cancels exactly
    return np.exp(expo) * scale + eps


def performer_attention(q, k, v, w, kind="positive", causal=False, eps=0.0):
    """FAVOR+ estimate of softmax_attention(q, k, v, causal=causal) with the 1/sqrt(d) scale.

    q, k: (..., n, d), v: (..., n, d_v), w: (m, d) from gaussian_projection(m, d, ...).
    kind: "positive" (m features), "hyperbolic" (2m), "trig" (2m). eps: see the module docstring.
    """
    check_qkv(q, k, v, "numpy")
    d = q.shape[-1]
    check_projection("w", w, d, "numpy")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} (got kind = {kind!r})")
    check_eps(eps)
    check_causal(causal)
    if causal:
        check_causal_lengths(q, k)
    c = d ** -0.25
    phi_q = _stabilised_features(q * c, w, kind, True, eps)
    phi_k = _stabilised_features(k * c, w, kind, False, eps)
    return linear_attention_from_features(phi_q, phi_k, v, causal=causal)
