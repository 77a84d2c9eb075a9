"""Cost models of the attention forms: FLOPs and memory, as closed-form counts (backend-free NumPy).

Conventions (notebooks 02 and 03 derive these; tests/test_costs.py checks them against the operations
an instrumented implementation actually executes):

* **FLOPs.** A multiply-add counts as 2 FLOPs, so a matrix product (a, b) @ (b, c) costs 2abc, and
  an elementwise add, multiply, divide or exp costs 1 FLOP per output entry. Masking (setting
  entries to zero) costs nothing.
* **The feature map.** By default (``features=None``) the forms start from phi(Q): (n, m),
  phi(K): (n, m) and V: (n, d_v), so the counts compare the *orders of multiplication*: that is the
  right comparison between the two orders of the same product, where phi costs both the same.
  Against *softmax* attention, which starts from Q and K, phi is not free: pass ``features=<name of
  a feature map>`` (and d) and the linear form also pays :func:`feature_map_cost` -- for Performer's
  positive random features the projections Q W^T and K W^T, 4 n m d FLOPs, and phi(Q), phi(K),
  2 n m floats held while the form runs.
* **The normaliser rides along as one more value column** (Performer's Algorithm 1): with
  V' = [V 1] of width d_v + 1, the same product that gives the numerator sum_j sim_ij v_j gives the
  denominator sum_j sim_ij in its last column. The causal normaliser state z is then simply the last
  column of the state S' = [S z]: (m, d_v + 1). The final division costs n d_v.
* **Memory** is the number of floats of intermediates that the form holds at its peak, not counting
  the inputs (phi(Q), phi(K), V') and the (n, d_v) output. Multiply by 8 for bytes in float64.

Glossary: n sequence length, d query/key width, m number of features (width of phi), d_v value
width, C chunk size (``chunk_size``).

Every function returns a small named tuple with at least ``flops`` and ``memory``.
"""
from collections import namedtuple
import math

import numpy as np

Cost = namedtuple("Cost", ["flops", "memory"])
Cost.__doc__ = "FLOPs (a multiply-add = 2) and peak intermediate floats of one attention form."

ChunkedCost = namedtuple("ChunkedCost", ["flops", "memory", "steps"])
ChunkedCost.__doc__ = ("Cost of the chunkwise form; steps = number of sequential state updates "
                       "(chunks), the length of the dependency chain a parallel machine cannot shorten.")

Crossover = namedtuple("Crossover", ["flops", "memory"])
Crossover.__doc__ = "Crossover lengths n*: the quadratic form is cheaper below n*, the linear form above."


FEATURE_MAPS = ("elu_plus_one", "relu_features", "taylor_features", "positive_features")


def _check_sizes(**sizes):
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1 (got {name} = {value!r})")


def feature_map_cost(phi, n, d, m=None):
    """The cost of computing phi(Q) and phi(K) from Q, K: (n, d) -- both matrices, counted as executed.

    phi names a feature map of the library (``FEATURE_MAPS``); per input matrix (x: (n, d)):

        elu_plus_one       where(x > 0, x + 1, exp(x))   m = d          2 n d   (x + 1 and exp, both computed)
        relu_features      max(x, 0)                     m = d            n d
        taylor_features    [1, x, vec(x x^T)/sqrt(2)]    m = 1 + d + d^2  2 n d^2 (outer products, / sqrt 2)
        positive_features  exp(W x - |x|^2/2) / sqrt(m)  m given        2 n m d (x W^T)  +  2 n d (|x|^2 / 2)
                                                                        + 3 n m (subtract, exp, divide)

    flops  = twice the above (Q and K);  for positive features 4 n m d + 6 n m + 4 n d
    memory = 2 n m  (phi(Q) and phi(K), held while the attention form runs)

    m must be None or the map's width (d for elu+1 and ReLU, 1 + d + d^2 for Taylor); positive
    features need m. Returns a Cost.
    """
    if phi not in FEATURE_MAPS:
        raise ValueError(f"phi must be one of {FEATURE_MAPS} (got phi = {phi!r})")
    _check_sizes(n=n, d=d)
    width = {"elu_plus_one": d, "relu_features": d, "taylor_features": 1 + d + d * d}.get(phi)
    if phi == "positive_features":
        if m is None:
            raise ValueError("m (the number of random features) is required for phi = 'positive_features'")
        _check_sizes(m=m)
        width = m
    elif m is not None and m != width:
        raise ValueError(f"{phi} has m = {width} features for d = {d} (got m = {m})")
    per_matrix = {"elu_plus_one": 2 * n * d,
                  "relu_features": n * d,
                  "taylor_features": 2 * n * d * d,
                  "positive_features": 2 * n * width * d + 2 * n * d + 3 * n * width}[phi]
    return Cost(flops=2 * per_matrix, memory=2 * n * width)


def _features_cost(features, n, d, m):
    if features is None:
        return Cost(0, 0)
    if d is None:
        raise ValueError(f"d (the query/key width) is required with features = {features!r}")
    return feature_map_cost(features, n, d, m)


def quadratic_attention_cost(n, d, m=None, d_v=None, features=None):
    """The quadratic order (sim(Q, K)) V' of non-causal attention.

    m=None: softmax attention, sim = exp(Q K^T / sqrt(d)) (the scale folded into Q, the row maximum
    not subtracted, exp applied in place):

        flops  = 2 n^2 d  (Q K^T)  +  n^2 (exp)  +  2 n^2 (d_v + 1)  (sim V')  +  n d_v (divide)
        memory = n^2 (the n x n weights)  +  n (d_v + 1) (numerator and normaliser)

    m given: kernel attention with features of width m, sim = phi(Q) phi(K)^T (no exp):

        flops  = 2 n^2 m  +  2 n^2 (d_v + 1)  +  n d_v,      memory = n^2 + n (d_v + 1)

    d_v defaults to d. features (kernel attention only, m given): the name of the feature map, whose
    :func:`feature_map_cost` is added (softmax needs none: it starts from Q and K).
    """
    d_v = d if d_v is None else d_v
    _check_sizes(n=n, d=d, d_v=d_v)
    if m is not None:
        _check_sizes(m=m)
    elif features is not None:
        raise ValueError(f"features = {features!r} needs m (softmax attention has no feature map)")
    width = d if m is None else m
    flops = 2 * n * n * width + 2 * n * n * (d_v + 1) + n * d_v
    if m is None:
        flops += n * n                                           # exp, one per weight
    phi = _features_cost(features, n, d, m)
    return Cost(flops=flops + phi.flops, memory=n * n + n * (d_v + 1) + phi.memory)


def linear_attention_cost(n, m, d_v, features=None, d=None):
    """The reassociated order phi(Q) (phi(K)^T V') of non-causal attention: no n x n matrix.

        flops  = 2 n m (d_v + 1)  (S' = phi(K)^T V')  +  2 n m (d_v + 1)  (phi(Q) S')  +  n d_v
               = 4 n m (d_v + 1) + n d_v
        memory = m (d_v + 1)  (the state S' = [S z])  +  n (d_v + 1)

    features=None: phi(Q), phi(K) are given (free). features="positive_features" (or another name in
    FEATURE_MAPS) with d: the form starts from Q and K and also pays ``feature_map_cost(features, n,
    d, m)`` -- e.g. + 4 n m d + 6 n m + 4 n d FLOPs and + 2 n m floats for positive random features.
    """
    _check_sizes(n=n, m=m, d_v=d_v)
    phi = _features_cost(features, n, d, m)
    return Cost(flops=4 * n * m * (d_v + 1) + n * d_v + phi.flops,
                memory=m * (d_v + 1) + n * (d_v + 1) + phi.memory)


def crossover_length(d, m, d_v=None, baseline="softmax", features=None):
    """The lengths n* where the quadratic and the linear (reassociated) form cost the same.

    baseline="softmax": softmax attention with q.k of width d against linear attention with m
    features. Setting the FLOPs equal (the n d_v division cancels):

        (2d + 1 + 2(d_v + 1)) n^2 = 4 n m (d_v + 1)   =>   n*_flops = 4 m (d_v + 1) / (2d + 2d_v + 3)
        n^2 + n (d_v + 1) = m (d_v + 1) + n (d_v + 1)  =>   n*_memory = sqrt(m (d_v + 1))

    baseline="kernel": both orders of the *same* product (phi(Q) phi(K)^T) V', width m each:

        (2m + 2(d_v + 1)) n^2 = 4 n m (d_v + 1)        =>   n*_flops = 2 m (d_v + 1) / (m + d_v + 1)

    which is below 2 min(m, d_v + 1): reassociating the same product pays off almost at once.

    features (softmax baseline): the feature map the linear side must compute from Q and K, counted by
    :func:`feature_map_cost` (f n FLOPs and 2 n m floats, linear in n). Then

        n*_flops  = (4 m (d_v + 1) + f) / (2d + 2d_v + 3)
        n^2 = m (d_v + 1) + 2 n m      =>   n*_memory = m + sqrt(m^2 + m (d_v + 1))

    For Performer (d = d_v = 64, m = 256, positive features) that is n* ~ 517 FLOPs and ~ 543 floats,
    not the 257 and 129 of phi counted as free. With baseline="kernel" both orders compute the same
    phi, so features change nothing there.
    n* is returned as a float; the quadratic form is cheaper for n < n*, the linear one for n > n*.
    d_v defaults to d.
    """
    d_v = d if d_v is None else d_v
    _check_sizes(d=d, m=m, d_v=d_v)
    if baseline not in ("softmax", "kernel"):
        raise ValueError(f"baseline must be 'softmax' or 'kernel' (got baseline = {baseline!r})")
    if baseline == "kernel" or features is None:
        n_flops = (4 * m * (d_v + 1) / (2 * d + 2 * d_v + 3) if baseline == "softmax"
                   else 2 * m * (d_v + 1) / (m + d_v + 1))
        return Crossover(flops=n_flops, memory=math.sqrt(m * (d_v + 1)))
    phi = feature_map_cost(features, 1, d, m)              # per token: f FLOPs, 2m floats
    n_flops = (4 * m * (d_v + 1) + phi.flops) / (2 * d + 2 * d_v + 3)
    half = phi.memory / 2                                  # = m
    return Crossover(flops=n_flops, memory=half + math.sqrt(half * half + m * (d_v + 1)))


def causal_quadratic_cost(n, m, d_v):
    """The masked quadratic form (phi(Q) phi(K)^T ⊙ M) V' (the mask M applied in place, free).

        flops  = 2 n^2 m + 2 n^2 (d_v + 1) + n d_v      (the full n x n block is computed, then masked)
        memory = n^2 + n (d_v + 1)
    """
    _check_sizes(n=n, m=m, d_v=d_v)
    return Cost(flops=2 * n * n * m + 2 * n * n * (d_v + 1) + n * d_v, memory=n * n + n * (d_v + 1))


def cumsum_cost(n, m, d_v):
    """Causal linear attention by prefix sums, materialised: S'_i = sum_{j<=i} phi(k_j) v'_j^T for every i.

        outer products   phi(k_j) v'_j^T      n m (d_v + 1) multiplies       -> (n, m, d_v + 1) tensor
        prefix sum over j                     (n - 1) m (d_v + 1) adds       -> another (n, m, d_v + 1)
        read-out  phi(q_i)^T S'_i             2 n m (d_v + 1)                -> (n, d_v + 1)
        divide                                n d_v

        flops  = n m (d_v + 1) + (n - 1) m (d_v + 1) + 2 n m (d_v + 1) + n d_v
        memory = 2 n m (d_v + 1) + n (d_v + 1)    (outer products and their prefix sums are alive together)

    Linear in n, but with an n m (d_v + 1) tensor: the memory blow-up notebook 03 measures.
    """
    _check_sizes(n=n, m=m, d_v=d_v)
    w = m * (d_v + 1)
    return Cost(flops=n * w + (n - 1) * w + 2 * n * w + n * d_v, memory=2 * n * w + n * (d_v + 1))


def recurrent_cost(n, m, d_v):
    """The RNN form: for t = 1..n, S'_t = S'_{t-1} + phi(k_t) v'_t^T, out_t = phi(q_t)^T S'_t (divided).

        per token: outer product m (d_v + 1) + add m (d_v + 1) + read-out 2 m (d_v + 1) + divide d_v
        flops  = n (4 m (d_v + 1) + d_v)                 (the same as the non-causal linear form)
        memory = 2 m (d_v + 1) + (d_v + 1)               (state, one outer product, one read-out)

    Memory does not grow with n; the price is n sequential steps.
    """
    _check_sizes(n=n, m=m, d_v=d_v)
    w = m * (d_v + 1)
    return Cost(flops=n * (4 * w + d_v), memory=2 * w + (d_v + 1))


def chunk_lengths(n, chunk_size):
    """Lengths of the chunks of a length-n sequence cut into blocks of C (the last one may be shorter)."""
    _check_sizes(n=n, chunk_size=chunk_size)
    full, rest = divmod(n, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def chunked_cost(n, m, d_v, chunk_size):
    """The chunkwise-parallel form (as ``chunked_linear_attention`` runs it), chunks of length L <= C.

    Per chunk with L tokens and the state S' before it:

        intra-chunk   phi(Q_c) phi(K_c)^T  2 L^2 m,   (... ⊙ M) V'_c  2 L^2 (d_v + 1)   (dense blocks, masked)
        inter-chunk   phi(Q_c) S'          2 L m (d_v + 1),   sum of the two   L (d_v + 1)
        divide        L d_v
        state update  S' + phi(K_c)^T V'_c    2 L m (d_v + 1) + m (d_v + 1)

        flops  = sum over chunks of the above  ~  2 n C (m + d_v + 1) + 4 n m (d_v + 1) + (n / C) m (d_v + 1)
        memory = C^2 + 2 C (d_v + 1) + 2 m (d_v + 1)     (one block, its two read-outs, state and update)
        steps  = ceil(n / C)                              (sequential state hand-offs)

    C = 1 is a recurrence (steps = n, memory independent of n); C = n is the masked quadratic form
    with one step (plus the state terms, which return the final state for generation).
    """
    _check_sizes(n=n, m=m, d_v=d_v, chunk_size=chunk_size)
    w = m * (d_v + 1)
    flops = 0
    for L in chunk_lengths(n, chunk_size):
        flops += 2 * L * L * m + 2 * L * L * (d_v + 1)          # intra-chunk
        flops += 2 * L * w + L * (d_v + 1)                      # inter-chunk read-out and sum
        flops += L * d_v                                        # divide
        flops += 2 * L * w + w                                  # state update
    C = min(chunk_size, n)
    memory = C * C + 2 * C * (d_v + 1) + 2 * w
    return ChunkedCost(flops=flops, memory=memory, steps=len(chunk_lengths(n, chunk_size)))
