"""Cost models of the attention forms: FLOPs and memory, as closed-form counts (backend-free NumPy).

Conventions (notebooks 02 and 03 derive these; tests/test_costs.py checks them against the operations
an instrumented implementation actually executes):

* **FLOPs.** A multiply-add counts as 2 FLOPs, so a matrix product (a, b) @ (b, c) costs 2abc, and
  an elementwise add, multiply, divide or exp costs 1 FLOP per output entry. Masking (setting
  entries to zero) costs nothing. The feature map phi is not counted: every form below starts from
  phi(Q): (n, m), phi(K): (n, m) and V: (n, d_v), so the counts compare the *orders of
  multiplication*, not the feature maps.
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


def _check_sizes(**sizes):
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1 (got {name} = {value!r})")


def quadratic_attention_cost(n, d, m=None, d_v=None):
    """The quadratic order (sim(Q, K)) V' of non-causal attention.

    m=None: softmax attention, sim = exp(Q K^T / sqrt(d)) (the scale folded into Q, the row maximum
    not subtracted, exp applied in place):

        flops  = 2 n^2 d  (Q K^T)  +  n^2 (exp)  +  2 n^2 (d_v + 1)  (sim V')  +  n d_v (divide)
        memory = n^2 (the n x n weights)  +  n (d_v + 1) (numerator and normaliser)

    m given: kernel attention with features of width m, sim = phi(Q) phi(K)^T (no exp):

        flops  = 2 n^2 m  +  2 n^2 (d_v + 1)  +  n d_v,      memory = n^2 + n (d_v + 1)

    d_v defaults to d.
    """
    d_v = d if d_v is None else d_v
    _check_sizes(n=n, d=d, d_v=d_v)
    if m is not None:
        _check_sizes(m=m)
    width = d if m is None else m
    flops = 2 * n * n * width + 2 * n * n * (d_v + 1) + n * d_v
    if m is None:
        flops += n * n                                           # exp, one per weight
    return Cost(flops=flops, memory=n * n + n * (d_v + 1))


def linear_attention_cost(n, m, d_v):
    """The reassociated order phi(Q) (phi(K)^T V') of non-causal attention: no n x n matrix.

        flops  = 2 n m (d_v + 1)  (S' = phi(K)^T V')  +  2 n m (d_v + 1)  (phi(Q) S')  +  n d_v
               = 4 n m (d_v + 1) + n d_v
        memory = m (d_v + 1)  (the state S' = [S z])  +  n (d_v + 1)
    """
    _check_sizes(n=n, m=m, d_v=d_v)
    return Cost(flops=4 * n * m * (d_v + 1) + n * d_v, memory=m * (d_v + 1) + n * (d_v + 1))


def crossover_length(d, m, d_v=None, baseline="softmax"):
    """The lengths n* where the quadratic and the linear (reassociated) form cost the same.

    baseline="softmax": softmax attention with q.k of width d against linear attention with m
    features. Setting the FLOPs equal (the n d_v division cancels):

        (2d + 1 + 2(d_v + 1)) n^2 = 4 n m (d_v + 1)   =>   n*_flops = 4 m (d_v + 1) / (2d + 2d_v + 3)
        n^2 + n (d_v + 1) = m (d_v + 1) + n (d_v + 1)  =>   n*_memory = sqrt(m (d_v + 1))

    baseline="kernel": both orders of the *same* product (phi(Q) phi(K)^T) V', width m each:

        (2m + 2(d_v + 1)) n^2 = 4 n m (d_v + 1)        =>   n*_flops = 2 m (d_v + 1) / (m + d_v + 1)

    which is below 2 min(m, d_v + 1): reassociating the same product pays off almost at once.
    n* is returned as a float; the quadratic form is cheaper for n < n*, the linear one for n > n*.
    d_v defaults to d.
    """
    d_v = d if d_v is None else d_v
    _check_sizes(d=d, m=m, d_v=d_v)
    if baseline == "softmax":
        n_flops = 4 * m * (d_v + 1) / (2 * d + 2 * d_v + 3)
    elif baseline == "kernel":
        n_flops = 2 * m * (d_v + 1) / (m + d_v + 1)
    else:
        raise ValueError(f"baseline must be 'softmax' or 'kernel' (got baseline = {baseline!r})")
    return Crossover(flops=n_flops, memory=math.sqrt(m * (d_v + 1)))


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
