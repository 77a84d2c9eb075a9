"""Checkers for notebook 08 (the delta rule, Gated DeltaNet, state tracking).

    from linattn_edu.exercises import nb08 as ex
    ex.ex1(readback)             # a function (old, v) -> S_new^T k after one beta = 2 step with a unit key
    ex.ex2(my_delta)             # a function (q, k, v, beta) -> (n, d_v): the delta-rule recurrence by hand
    ex.ex3(my_gated_step)        # a function (S, k, v, beta, a) -> S_new: one gated delta-rule step

The references are written from the formulas with explicit d_k x d_k transition matrices, not library calls.
"""
import numpy as np

from . import is_stub, not_attempted, right, wrong


def _call(fn, *args):
    """(result, None) or (None, Feedback) when fn is a stub, not callable, raises or returns None."""
    if is_stub(fn):
        return None, not_attempted()
    if not callable(fn):
        return None, wrong("pass the function itself")
    try:
        got = fn(*args)
    except Exception as err:
        return None, wrong(f"your function raised {type(err).__name__}: {err}")
    if got is None:
        return None, not_attempted("your function returns None: write its body")
    if isinstance(got, tuple):
        got = got[0]
    return np.asarray(got, dtype=float), None


def ex1(readback):
    """After S <- (I - 2 k k^T) S + 2 k v^T with ||k|| = 1, the memory recalls S_new^T k = 2 v - old (old = S^T k)."""
    g = np.random.default_rng(11)
    old, v = g.standard_normal(4), g.standard_normal(4)
    got, fb = _call(readback, old, v)
    if fb is not None:
        return fb
    if got.shape != v.shape:
        return wrong(f"return a vector like v, shape {v.shape} (got {got.shape})")
    if np.allclose(got, 2 * v - old, rtol=1e-10):
        return right("2 v - old: the reflection overshoots the target by exactly as much as the old value missed it")
    if np.allclose(got, v, rtol=1e-10):
        return wrong("v is what beta = 1 gives (an exact overwrite); beta = 2 moves twice as far")
    if np.allclose(got, -old + v, rtol=1e-10) or np.allclose(got, v - old, rtol=1e-10):
        return wrong("expand (I - 2kk^T)S + 2kv^T and multiply by k^T: k^T k = 1, so the write counts twice")
    if np.allclose(got, -old, rtol=1e-10):
        return wrong("-old is the reflection alone; add what the step writes, 2 v")
    return wrong("not right: compute k^T ((I - 2 k k^T) S + 2 k v^T) with k^T k = 1 and S^T k = old")


def _delta_reference(q, k, v, beta):
    S = np.zeros((k.shape[1], v.shape[1]))
    out = []
    for t in range(k.shape[0]):
        S = (np.eye(k.shape[1]) - beta[t] * np.outer(k[t], k[t])) @ S + beta[t] * np.outer(k[t], v[t])
        out.append(S.T @ q[t])
    return np.array(out)


def ex2(my_delta):
    """my_delta(q, k, v, beta) -> outputs (n, d_v) of S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T, o_t = S_t^T q_t."""
    g = np.random.default_rng(12)
    q, k, v = g.standard_normal((9, 4)), g.standard_normal((9, 4)), g.standard_normal((9, 3))
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    beta = g.uniform(0.2, 1.8, 9)
    got, fb = _call(my_delta, q, k, v, beta)
    if fb is not None:
        return fb
    want = _delta_reference(q, k, v, beta)
    if got.shape != want.shape:
        return wrong(f"the output should have shape (n, d_v) = {want.shape}, got {got.shape}")
    if np.allclose(got, want, rtol=1e-10, atol=1e-12):
        return right("your loop equals the recurrence (I - beta k k^T) S + beta k v^T")
    S = np.zeros((4, 3)); no_beta = []
    for t in range(9):
        S = S + np.outer(k[t], beta[t] * v[t] - S.T @ k[t]); no_beta.append(S.T @ q[t])
    if np.allclose(got, no_beta, rtol=1e-10):
        return wrong("beta must scale the whole error v - S^T k: the erase term -beta k k^T S lost its beta")
    S = np.zeros((4, 3)); before = []
    for t in range(9):
        before.append(S.T @ q[t]); S = S + beta[t] * np.outer(k[t], v[t] - S.T @ k[t])
    if np.allclose(got, before, rtol=1e-10):
        return wrong("you read before writing: o_t = S_t^T q_t uses the state that includes token t")
    return wrong(f"your outputs differ from the delta-rule outputs by up to {np.abs(got - want).max():.3g}")


def ex3(my_gated_step):
    """One gated delta-rule step: S_new = a (I - beta k k^T) S + beta k v^T."""
    g = np.random.default_rng(13)
    S, k, v = g.standard_normal((4, 3)), g.standard_normal(4), g.standard_normal(3)
    k /= np.linalg.norm(k)
    beta, a = 0.8, 0.6
    got, fb = _call(my_gated_step, S, k, v, beta, a)
    if fb is not None:
        return fb
    want = a * (np.eye(4) - beta * np.outer(k, k)) @ S + beta * np.outer(k, v)
    if got.shape != want.shape:
        return wrong(f"return the new state, shape {want.shape} (got {got.shape})")
    if np.allclose(got, want, rtol=1e-10):
        return right("decay first, then one delta step on the decayed memory")
    if np.allclose(got, a * (S + beta * np.outer(k, v - S.T @ k)), rtol=1e-10):
        return wrong("you decay after the delta step: the new write beta k v^T is shrunk by a too; decay S first")
    if np.allclose(got, a * S - beta * np.outer(k, k) @ S + beta * np.outer(k, v), rtol=1e-10):
        return wrong("the erase reads the undecayed memory: it must read what is left after the decay, a S")
    if np.allclose(got, S + beta * np.outer(k, v - S.T @ k), rtol=1e-10):
        return wrong("that is the plain delta rule: the decay a is missing")
    return wrong("not right: S_new = a (I - beta k k^T) S + beta k v^T")
