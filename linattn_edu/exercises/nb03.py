"""Checkers for notebook 03 (causal linear attention is an RNN).

    from linattn_edu.exercises import nb03 as ex
    ex.ex1(my_recurrent)                 # a function (q, k, v, phi) -> (n, d_v) outputs, the RNN loop
    ex.ex2(t_cross)                      # first token at which the KV cache is larger than the state
    ex.ex4(state, q, k, v, split)        # the state to hand off after the prompt q[:split], ...
    ex.ex5(c_star)                       # the FLOP-optimal chunk size of the approximation, m = d_v = 64

The references here are written from the formulas with plain NumPy (masked sums), not library calls.
"""
import numpy as np

from . import close_to, is_stub, not_attempted, right, wrong


def _elu1(x):
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def _masked_reference(q, k, v, phi, offset=0):
    """out_i = sum_{j <= i + offset} sim_ij v_j / sum_{j <= i + offset} sim_ij (offset -1: j < i)."""
    sim = phi(q) @ phi(k).T                                   # (n, n)
    sim = np.tril(sim, offset)
    den = sim.sum(axis=1, keepdims=True)
    return np.divide(sim @ v, den, out=np.zeros((q.shape[0], v.shape[1])), where=den > 0)


def ex1(my_recurrent):
    """my_recurrent(q, k, v, phi) with phi a function: causal linear attention by the S, z loop."""
    if is_stub(my_recurrent):
        return not_attempted()
    if not callable(my_recurrent):
        return wrong("pass the function itself")
    g = np.random.default_rng(3)
    q, k, v = g.standard_normal((9, 3)), g.standard_normal((9, 3)), g.standard_normal((9, 2))
    try:
        got = my_recurrent(q, k, v, _elu1)
    except Exception as err:
        return wrong(f"your function raised {type(err).__name__}: {err}")
    if got is None:
        return not_attempted("your function returns None: write its body")
    if isinstance(got, tuple):
        got = got[0]
    got = np.asarray(got, dtype=float)
    want = _masked_reference(q, k, v, _elu1)
    if got.shape != want.shape:
        return wrong(f"the output should have shape (n, d_v) = {want.shape}, got {got.shape}")
    if np.allclose(got, want, rtol=1e-10, atol=1e-12):
        return right("your loop equals the masked quadratic form")
    if np.allclose(got[1:], _masked_reference(q, k, v, _elu1, -1)[1:], rtol=1e-10):
        return wrong("you read out before adding token t: S_t and z_t must include phi(k_t) v_t^T (j <= t)")
    fq, fk = _elu1(q), _elu1(k)
    S = np.cumsum(fk[:, :, None] * v[:, None, :], axis=0)
    no_z = np.einsum("tm,tme->te", fq, S) / (fq * fk).sum(axis=1, keepdims=True)
    if np.allclose(got, no_z, rtol=1e-10):
        return wrong("z is not accumulated: z_t = z_{t-1} + phi(k_t), a running sum like S")
    if np.allclose(got, np.einsum("tm,tme->te", fq, S), rtol=1e-10):
        return wrong("the normaliser is missing: divide by phi(q_t) . z_t")
    return wrong(f"your outputs differ from the causal linear attention outputs by up to {np.abs(got - want).max():.3g}")


def kv_cache_crossover(d=64, m=64, d_v=64):
    """The first t with 2 t d > m d_v + m."""
    return (m * d_v + m) // (2 * d) + 1


def ex2(t_cross):
    if is_stub(t_cross):
        return not_attempted()
    want = kv_cache_crossover()
    try:
        t = int(t_cross)
    except (TypeError, ValueError):
        return wrong("give a whole number of tokens")
    if t == want:
        return right(f"from token {want} on: 2 t d = {2 * want * 64} > m d_v + m = {64 * 64 + 64} floats")
    if t == want - 1:
        return wrong(f"at t = {t} the cache holds 2 t d = {2 * t * 64} floats, still fewer than the state's "
                     f"{64 * 64 + 64}: it must be strictly larger")
    if t == (64 * 64 + 64) // 64 + 1:
        return wrong("the KV cache holds keys AND values: 2 t d floats, not t d")
    return wrong(f"t = {t} is not right: solve 2 t d > m d_v + m for the smallest whole t")


def ex4(state, q, k, v, split):
    """state: the (S, z) to hand off after the prompt q[:split], k[:split], v[:split] (phi = elu + 1)."""
    if is_stub(state):
        return not_attempted()
    if not (isinstance(state, tuple) and len(state) == 2):
        return wrong("the state is a pair (S, z): S of shape (m, d_v), z of shape (m,)")
    fk = _elu1(np.asarray(k)[:split])
    S_want, z_want = fk.T @ np.asarray(v)[:split], fk.sum(axis=0)
    S, z = (np.asarray(x, dtype=float) for x in state)
    if S.shape != S_want.shape or z.shape != z_want.shape:
        return wrong(f"expected S: {S_want.shape} and z: {z_want.shape}, got {S.shape} and {z.shape}")
    if not np.allclose(S, S_want, rtol=1e-10):
        return wrong("S is not the prompt's sum of phi(k_j) v_j^T over j < split")
    if np.allclose(z, 0):
        return wrong("z is still zero: that is the bug of section 3 — hand off the normaliser state too")
    if not np.allclose(z, z_want, rtol=1e-10):
        return wrong("z is not the prompt's sum of phi(k_j) over j < split")
    return right("with (S, z) handed off, the continuation equals the single parallel pass")


def c_star(m=64, d_v=64):
    return float(np.sqrt(m * (d_v + 1) / (2 * (m + d_v + 1))))


def ex5(answer):
    """C* = argmin_C of 2 n C (m + d_v + 1) + (n / C) m (d_v + 1), at m = d_v = 64."""
    return close_to(answer, c_star(), name="C*", rtol=1e-3,
                    hints=[(np.sqrt(2.0), "did you drop the 2 in 2 n C (m + d_v + 1)?"),
                           (c_star(), "that is C*^2: take the square root of m (d_v + 1) / (2 (m + d_v + 1))")])
