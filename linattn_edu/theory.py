"""Closed forms behind notebooks 04-06: random-feature MSEs, bounds, Linformer's k and cost models.

Backend-free NumPy; nothing here draws a random number. Every formula cites its source, and each
is checked against Monte Carlo in tests/test_theory.py with a tolerance taken from the estimator's
own standard error.

Glossary (code name -> symbol)

    x, y        two vectors in R^d (a query and a key after the d^{-1/4} scaling)
    SM          the softmax kernel SM(x, y) = exp(x . y)
    z, delta    z = x + y,  Delta = x - y
    Lambda      exp(-(|x|^2 + |y|^2) / 2)
    m           number of random draws w_1..w_m ~ N(0, I_d).  NOTE for the hyperbolic estimator:
                m is the number of DRAWS; ``hyperbolic_features(x, w)`` with w: (m, d) returns 2m
                coordinates [exp(w x), exp(-w x)], and Lemma 2's MSE_hyp with this m is what it
                has (tests/test_theory.py checks it by Monte Carlo). So hyperbolic features cost 2m
                coordinates for MSE_hyp(m) = 1/2 (1 - exp(-|z|^2)) MSE_pos(m), which is below
                MSE_pos(2m) = MSE_pos(m) / 2: better than positive features with as many coordinates.

Sources
    [P]  Choromanski et al., "Rethinking Attention with Performers", ICLR 2021, arXiv 2009.14794
         (ar5iv render): Lemma 2 (Eq. 8, proof App. F.2), Theorem 2, Theorem 4, Fig. 2.
    [L]  Wang et al., "Linformer: Self-Attention with Linear Complexity", arXiv 2006.04768:
         Theorem 1 and its JL-based proof, Table 3.
"""
import numpy as np


# ----------------------------------------------------------------------------------------------------
# helpers

def _pair(x, y):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim < 1 or y.ndim < 1 or x.shape[-1] != y.shape[-1]:
        raise ValueError(f"x and y must be vectors (..., d) with the same d (got x: {x.shape}, y: {y.shape})")
    return x, y


def _check_m(m):
    m_arr = np.asarray(m)
    if not np.all(m_arr >= 1):
        raise ValueError(f"m must be >= 1 (got m = {m})")
    return m_arr


def _sq(a):
    return np.sum(a * a, axis=-1)


def softmax_kernel(x, y):
    """SM(x, y) = exp(x . y).  x, y: (..., d) broadcastable -> (...)."""
    x, y = _pair(x, y)
    return np.exp(np.sum(x * y, axis=-1))


def vectors_at_angle(norm_x, norm_y, angle, d):
    """x, y in R^d with |x| = norm_x, |y| = norm_y and angle(x, y) = angle (radians); (d,) each.

    x lies along e_1, y in the plane of e_1, e_2. The Lemma 2 formulas only depend on |x|, |y| and
    the angle, so this is the general case for them. Scalars only.
    """
    if d < 2:
        raise ValueError(f"d must be >= 2 to have an angle (got d = {d})")
    x = np.zeros(d)
    y = np.zeros(d)
    x[0] = norm_x
    y[0], y[1] = norm_y * np.cos(angle), norm_y * np.sin(angle)
    return x, y


# ----------------------------------------------------------------------------------------------------
# Lemma 2 [P]: exact MSE of the three unbiased estimators of SM(x, y) with m iid draws

def mse_trig(x, y, m):
    """MSE of the trigonometric estimator exp((|x|^2+|y|^2)/2) mean_i cos(w_i . Delta).

        MSE_trig = 1/(2m) exp(|z|^2) SM^-2 (1 - exp(-|Delta|^2))^2              [P, Lemma 2, Eq. 8]

    Equivalently exp(|x|^2+|y|^2) (1 - exp(-|Delta|^2))^2 / (2m), since Var cos(w.Delta) =
    (1 - exp(-|Delta|^2))^2 / 2 ([P] App. F.2, Eq. 14). Grows without bound as SM -> 0.
    x, y: (..., d); m: number of draws (the map has 2m coordinates). Returns (...).
    """
    x, y = _pair(x, y)
    m = _check_m(m)
    # exp(|z|^2) SM^-2 = exp(|x|^2 + |y|^2): written this way it cannot overflow to inf * 0
    return np.exp(_sq(x) + _sq(y)) * (1.0 - np.exp(-_sq(x - y))) ** 2 / (2.0 * m)


def mse_positive(x, y, m):
    """MSE of the positive estimator mean_i exp(w_i.x - |x|^2/2) exp(w_i.y - |y|^2/2).

        MSE_pos = 1/m exp(|z|^2) SM^2 (1 - exp(-|z|^2))                          [P, Lemma 2, Eq. 8]

    -> 0 as SM -> 0. x, y: (..., d); m: number of draws = number of coordinates. Returns (...).
    """
    x, y = _pair(x, y)
    m = _check_m(m)
    z2 = _sq(x + y)
    return np.exp(z2 + 2.0 * np.sum(x * y, axis=-1)) * (-np.expm1(-z2)) / m


def mse_hyperbolic(x, y, m):
    """MSE of the hyperbolic estimator Lambda mean_i cosh(w_i . z).

        MSE_hyp = 1/2 (1 - exp(-|z|^2)) MSE_pos                                  [P, Lemma 2, Eq. 8]

    with the SAME m in both: m = number of draws w_i; ``hyperbolic_features`` then has 2m coordinates
    (checked by Monte Carlo in tests/test_theory.py). Per draw, Var cosh(w.z) = (exp(|z|^2) - 1)^2 / 2.
    """
    x, y = _pair(x, y)
    return 0.5 * (-np.expm1(-_sq(x + y))) * mse_positive(x, y, m)


def mse_ratio_trig_positive(x, y):
    """MSE_trig / MSE_pos for the same m, the quantity of [P] Fig. 2:

        r = (1 - exp(-|Delta|^2))^2 / (2 SM^4 (1 - exp(-|z|^2)))

    Independent of m. x, y: (..., d). Returns (...); inf where z = 0 (MSE_pos = 0 there).
    """
    x, y = _pair(x, y)
    with np.errstate(divide="ignore", over="ignore"):
        return ((-np.expm1(-_sq(x - y))) ** 2
                / (2.0 * np.exp(4.0 * np.sum(x * y, axis=-1)) * (-np.expm1(-_sq(x + y)))))


def fig2_ratio(angle, length):
    """[P] Fig. 2: r(angle, l) = MSE_trig / MSE_pos for |x| = |y| = l at the given angle (radians).

    With c = cos(angle): |Delta|^2 = 2 l^2 (1 - c), |z|^2 = 2 l^2 (1 + c), x.y = l^2 c. Broadcasts.
    """
    angle = np.asarray(angle, dtype=float)
    l2 = np.asarray(length, dtype=float) ** 2
    c = np.cos(angle)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return (-np.expm1(-2 * l2 * (1 - c))) ** 2 / (2 * np.exp(4 * l2 * c) * (-np.expm1(-2 * l2 * (1 + c))))


# ----------------------------------------------------------------------------------------------------
# Theorem 2 [P]: orthogonal random features

def orthogonal_mse_gap_bound(x, y, m):
    """The guaranteed MSE reduction of orthogonal (block-orthogonal, m <= d) positive features:

        MSE_ort <= MSE_pos - 2(m-1)/(m(d+2)) (SM - exp(-(|x|^2+|y|^2)/2))^2      [P, Theorem 2]

    Returns the subtracted gap (>= 0). x, y: (..., d); requires m <= d (one orthogonal block).
    """
    x, y = _pair(x, y)
    d = x.shape[-1]
    m = _check_m(m)
    if np.any(m > d):
        raise ValueError(f"Theorem 2 needs m <= d (one orthogonal block); got m = {m}, d = {d}")
    lam = np.exp(-0.5 * (_sq(x) + _sq(y)))
    return 2.0 * (m - 1) / (m * (d + 2.0)) * (softmax_kernel(x, y) - lam) ** 2


def mse_orthogonal_bound(x, y, m):
    """Theorem 2's upper bound on MSE_ort: mse_positive(x, y, m) - orthogonal_mse_gap_bound(x, y, m)."""
    return mse_positive(x, y, m) - orthogonal_mse_gap_bound(x, y, m)


# ----------------------------------------------------------------------------------------------------
# from kernel error to attention error (notebook 05)

def positive_kernel_covariance(x, ys, m):
    """Covariance of the positive estimates of SM(x, y_j) and SM(x, y_l) that share the same draws:

        Cov_jl = 1/m [ Lambda_j Lambda_l exp(|2x + y_j + y_l|^2 / 2) - SM(x, y_j) SM(x, y_l) ]

    with Lambda_j = exp(-(|x|^2 + |y_j|^2)/2); from E exp(w.a) = exp(|a|^2/2) ([P] App. F.1, Eq. 16),
    the same step as Lemma 2 (the diagonal is mse_positive). x: (d,), ys: (n, d) -> (n, n).
    """
    x, ys = _pair(x, ys)
    m = float(_check_m(m))
    if x.ndim != 1 or ys.ndim != 2:
        raise ValueError(f"x must be (d,) and ys (n, d) (got x: {x.shape}, ys: {ys.shape})")
    s = ys + x[None, :]                                              # (n, d): z_j = x + y_j
    zz = _sq(s)[:, None] + _sq(s)[None, :] + 2.0 * s @ s.T           # |z_j + z_l|^2, (n, n)
    log_lam = -0.5 * (_sq(x) + _sq(ys))                              # (n,)
    second = np.exp(0.5 * zz + log_lam[:, None] + log_lam[None, :])  # E[f_j f_l] for one draw, (n, n)
    sm = np.exp(ys @ x)                                              # (n,)
    return (second - np.outer(sm, sm)) / m


def performer_output_mse_first_order(q, k, v, m):
    """Predicted MSE of each row of performer_attention(q, k, v, w, "positive") with iid w, to first order.

    out_i = sum_j K^_ij v_j / sum_j K^_ij with K^_ij the positive estimate of SM(q'_i, k'_j),
    q' = q d^{-1/4}, k' = k d^{-1/4}. Linearising the ratio (delta method) around K:

        out^_i - out_i ~= sum_j (K^_ij - K_ij) g_ij,     g_ij = (v_j - out_i) / D_i,   D_i = sum_j K_ij
        E|out^_i - out_i|^2 ~= sum_e g_e^T Cov_i g_e      (Cov_i from positive_kernel_covariance)

    Row normalisation removes the error component shared by all keys (a common factor cancels);
    what is left is weighted by how far v_j sits from the output. Valid when the relative kernel
    error is small (large m, moderate |q'+k'|); it says nothing once errors are ~100%.
    q: (n_q, d), k: (n, d), v: (n, d_v) -> (n_q,) summed over the d_v output coordinates.
    """
    q = np.asarray(q, dtype=float)
    k = np.asarray(k, dtype=float)
    v = np.asarray(v, dtype=float)
    if q.ndim != 2 or k.ndim != 2 or v.ndim != 2 or q.shape[1] != k.shape[1] or k.shape[0] != v.shape[0]:
        raise ValueError(f"need q: (n_q, d), k: (n, d), v: (n, d_v) (got {q.shape}, {k.shape}, {v.shape})")
    c = q.shape[1] ** -0.25
    qs, ks = q * c, k * c
    out = np.empty(q.shape[0])
    for i in range(q.shape[0]):
        cov = positive_kernel_covariance(qs[i], ks, m)                # (n, n)
        a = np.exp(ks @ qs[i])                                        # (n,)
        D = a.sum()
        o = a @ v / D                                                 # (d_v,)
        g = (v - o) / D                                               # (n, d_v)
        out[i] = np.einsum("je,jl,le->", g, cov, g)
    return out


def theorem4_features(d, R, eps, constant=1.0):
    """m from [P] Theorem 4 (ar5iv version) for ||A^ - A||_max <= eps with constant probability:

        l = R d^{-1/4},  h* = exp(l^2 / 2),  delta = eps / h*^2,
        m = Theta( d / delta^2 * log(4 d^{3/4} R / delta) )

    (trigonometric ORFs, |q|, |k| <= R). The Theta hides a constant; ``constant`` multiplies the
    expression, so only the SCALING in d, R, eps is the theorem's. Broadcasts.
    """
    d = np.asarray(d, dtype=float)
    R = np.asarray(R, dtype=float)
    h_star = np.exp(0.5 * R ** 2 / np.sqrt(d))
    delta = eps / h_star ** 2
    return constant * d / delta ** 2 * np.log(4.0 * d ** 0.75 * R / delta)


def theorem4_eps(m, d, R, constant=1.0):
    """Inverse of ``theorem4_features``: the eps for which Theorem 4's m equals the given m (scalars).

    Solved by bisection in log(delta); same constant convention, so only its scaling is meaningful.
    """
    h2 = np.exp(R ** 2 / np.sqrt(d))                                   # h*^2
    lo, hi = -40.0, 40.0                                               # log(delta) bracket
    f = lambda ld: constant * d / np.exp(2 * ld) * np.log(max(4.0 * d ** 0.75 * R / np.exp(ld), 1.0 + 1e-12)) - m
    for _ in range(200):                                               # f decreases in log(delta)
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) > 0 else (lo, mid)
    return float(np.exp(0.5 * (lo + hi)) * h2)


def hoeffding_tail_trig(x, y, m, t):
    """P(|SM^trig_m - SM| >= t) <= 2 exp(-m t^2 / (2 h^2)),  h = exp((|x|^2+|y|^2)/2), iid draws.

    Hoeffding for the mean of m iid cos(w_i.Delta) in [-1, 1] (range 2), scaled by h: the
    concentration step behind [P] Theorem 4 (whose delta = eps / h*^2). Clipped at 1. Broadcasts in t.
    """
    x, y = _pair(x, y)
    m = _check_m(m)
    h = np.exp(0.5 * (_sq(x) + _sq(y)))
    return np.minimum(1.0, 2.0 * np.exp(-m * np.asarray(t, dtype=float) ** 2 / (2.0 * h ** 2)))


def chebyshev_tail(mse, t):
    """P(|estimate - truth| >= t) <= MSE / t^2 (Chebyshev, for any unbiased estimator). Clipped at 1."""
    t = np.asarray(t, dtype=float)
    return np.minimum(1.0, np.asarray(mse, dtype=float) / t ** 2)


# ----------------------------------------------------------------------------------------------------
# Linformer [L]

def linformer_k(n, eps):
    """k = 5 log(n) / (eps^2 - eps^3), the projection size in the proof of [L] Theorem 1 (natural log).

    With R: (k, n), entries N(0, 1/k), the JL lemma then gives P~ = P R^T R with
    ||P~ w - P w|| < eps ||P w|| with probability 1 - o(1). Needs 0 < eps < 1. Broadcasts.
    """
    eps = np.asarray(eps, dtype=float)
    if np.any((eps <= 0) | (eps >= 1)):
        raise ValueError(f"eps must lie in (0, 1) (got eps = {eps})")
    return 5.0 * np.log(np.asarray(n, dtype=float)) / (eps ** 2 - eps ** 3)


def jl_failure_bound(k, eps):
    """Per-pair JL failure probability bound 2 exp(-(eps^2 - eps^3) k / 4)  ([L] proof of Thm 2, Eq. 9)."""
    eps = np.asarray(eps, dtype=float)
    return np.minimum(1.0, 2.0 * np.exp(-(eps ** 2 - eps ** 3) * np.asarray(k, dtype=float) / 4.0))


def attention_layer_cost(n, d_model=768, n_heads=12, d_ff=3072, k=None, bytes_per_value=4):
    """FLOPs and activation memory of one encoder layer's forward pass, softmax (k=None) or Linformer.

    A deliberately simple model (multiply-add = 2 FLOPs; memory = values written per sequence):
      dense:      Q, K, V, O projections 8 n d_model^2, feed-forward 4 n d_model d_ff
      softmax:    scores Q K^T and P V: 4 n^2 d_model; score tensor n^2 per head (scores + probs: 2x)
      Linformer:  E K and F V: 4 n k d_model; scores and P V: 4 n k d_model; score tensor n k per head
      activations every layer writes anyway: ~ n (4 d_model + d_ff) values (q, k, v, attn out, ffn hidden)
    Defaults: RoBERTa-base, the model of [L] Table 3 (whose numbers are measured on a V100, full model).
    Returns dict(flops=..., memory_bytes=...). Broadcasts over n and k.
    """
    n = np.asarray(n, dtype=float)
    dense = 8 * n * d_model ** 2 + 4 * n * d_model * d_ff
    base_act = n * (4 * d_model + d_ff)
    if k is None:
        flops = dense + 4 * n ** 2 * d_model
        act = base_act + 2 * n_heads * n ** 2
    else:
        k = np.asarray(k, dtype=float)
        flops = dense + 8 * n * k * d_model
        act = base_act + 2 * n_heads * n * k + 2 * k * d_model
    return {"flops": flops, "memory_bytes": act * bytes_per_value}


def linformer_savings(n, k, **kw):
    """Predicted (time ratio, max-batch ratio) softmax / Linformer from attention_layer_cost.

    Time ~ FLOPs; max batch ~ 1 / activation memory per sequence. Compare with [L] Table 3.
    """
    full = attention_layer_cost(n, k=None, **kw)
    lin = attention_layer_cost(n, k=k, **kw)
    return full["flops"] / lin["flops"], full["memory_bytes"] / lin["memory_bytes"]


# [L] Table 3 (inference, 16 GB V100, layerwise sharing); rows n, columns k = 128, 256, 512, 1024, 2048
# (nan where k >= n). Quoted from the paper, not measured here.
LINFORMER_TABLE3_K = (128, 256, 512, 1024, 2048)
LINFORMER_TABLE3_N = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
_nan = float("nan")
LINFORMER_TABLE3_TIME = np.array([
    [1.5, 1.3, _nan, _nan, _nan], [1.7, 1.6, 1.3, _nan, _nan], [2.6, 2.4, 2.1, 1.3, _nan],
    [3.4, 3.2, 2.8, 2.2, 1.3], [5.5, 5.0, 4.4, 3.5, 2.1], [8.6, 7.8, 7.0, 5.6, 3.3],
    [13, 12, 11, 8.8, 5.0], [20, 18, 16, 14, 7.9]])
LINFORMER_TABLE3_MEMORY = np.array([
    [1.7, 1.5, _nan, _nan, _nan], [3.0, 2.9, 1.8, _nan, _nan], [6.1, 5.6, 3.6, 2.0, _nan],
    [14, 13, 8.3, 4.3, 2.3], [28, 26, 17, 8.5, 4.5], [56, 48, 32, 16, 8],
    [56, 48, 36, 18, 16], [60, 52, 40, 20, 18]])


# ----------------------------------------------------------------------------------------------------
# exact MSE of orthogonal positive features (one block, m <= d, chi(d) row norms)

def _kummer_1f1(a, b, x, terms=400):
    """Kummer's 1F1(a; b; x) = sum_k (a)_k / (b)_k x^k / k!  for x >= 0 (plain series; x up to ~50)."""
    x = np.asarray(x, dtype=float)
    term = np.ones_like(x)
    total = np.ones_like(x)
    for k in range(terms):
        term = term * (a + k) / (b + k) * x / (k + 1.0)
        total = total + term
    return total


def mse_orthogonal_positive(x, y, m):
    """EXACT MSE of the positive estimator with m <= d orthogonal rows whose norms are iid chi(d).

    Each row is marginally N(0, I_d), so the estimator is unbiased and one draw has variance
    m * mse_positive(x, y, m). Two orthogonal rows w_1, w_2: w_1 + w_2 has a uniform direction and
    |w_1 + w_2|^2 = |w_1|^2 + |w_2|^2 ~ chi^2_{2d}; averaging exp(u . z) over a uniform direction and
    this norm gives E exp((w_1 + w_2) . z) = 1F1(d; d/2; |z|^2 / 2) (iid rows: exp(|z|^2)). Hence

        Cov = Lambda^2 (1F1(d; d/2; |z|^2/2) - exp(|z|^2))   (< 0),
        MSE_ort = mse_positive(x, y, m) + (m - 1)/m * Cov.

    The series of 1F1 differs from that of exp(|z|^2) first at |z|^4: Cov = -Lambda^2 |z|^4/(2(d+2)) + O(|z|^6),
    the leading term of [P] Theorem 2's gap 2(m-1)/(m(d+2)) (SM - Lambda)^2, so the theorem's bound is
    close to this exact value for small |z|. Derived for this course (not in [P]); checked by Monte
    Carlo in tests/test_theory.py and notebook 04. x, y: (d,); m <= d.
    """
    x, y = _pair(x, y)
    d = x.shape[-1]
    m = _check_m(m)
    if np.any(m > d):
        raise ValueError(f"one orthogonal block needs m <= d; got m = {m}, d = {d}")
    z2 = _sq(x + y)
    lam2 = np.exp(-(_sq(x) + _sq(y)))
    cov = lam2 * (_kummer_1f1(float(d), d / 2.0, z2 / 2.0) - np.exp(z2))
    return mse_positive(x, y, m) + (m - 1.0) / m * cov
