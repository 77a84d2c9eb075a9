"""Exercise checkers for notebook 11 (the trained-model audit)."""
import numpy as np

from . import is_stub, not_attempted, right, wrong, close_to

# exercise 1: the total variation between two fixed rows
EX1_P = np.array([0.70, 0.20, 0.05, 0.05])
EX1_P_HAT = np.array([0.30, 0.30, 0.20, 0.20])


def ex1(answer):
    """TV(EX1_P, EX1_P_HAT) = ½ Σ |p − p̂| = 0.4."""
    if is_stub(answer):
        return not_attempted()
    expected = 0.5 * np.abs(EX1_P - EX1_P_HAT).sum()
    return close_to(answer, expected, "TV", rtol=1e-9,
                    hints=((2.0, "you summed |p - p̂| but forgot the factor 1/2"),
                           (0.5, "the TV is ½ Σ|p - p̂|, not ¼ Σ|p - p̂|")))


def ex2(prev_scores):
    """The previous-token score mean_i A[i, i-1] (rows i >= 8) of every head of layer 0: (H,) array."""
    from .. import audit, lm
    import torch
    if is_stub(prev_scores):
        return not_attempted()
    model, _, val = lm.load()
    x = val[:16].long()
    with torch.no_grad():
        q, k, _ = model.qkv(x[:, :-1])[0]
        A = audit.method_weights("softmax", q, k).numpy()                  # (16, H, n, n)
    rows = np.arange(audit.SKIP_ROWS, A.shape[-1])
    expected = A[:, :, rows, rows - 1].mean(axis=(0, 2))
    a = np.asarray(prev_scores, dtype=float)
    if a.shape != expected.shape:
        return wrong(f"expected one score per head, shape {expected.shape} (got {a.shape})")
    diag = A[:, :, rows, rows].mean(axis=(0, 2))
    if np.allclose(a, diag, rtol=1e-6):
        return wrong("that is the weight on the query's own position A[i, i]; the previous token is A[i, i-1]")
    return close_to(a, expected, "the previous-token scores", rtol=1e-6)


# exercise 3: the decoder memory of the audit's 1-of-3 hybrid, from shapes
EX3_N = 1000


def ex3(answer):
    """Floats kept per sequence after EX3_N tokens by the hybrid with layer 0 softmax and layers 1-2 elu+1
    (H = 4 heads of d_head = 16): 2 n H d_head for the KV cache + 2 H (d_head^2 + d_head) for S and z."""
    if is_stub(answer):
        return not_attempted()
    try:
        a = float(answer)
    except (TypeError, ValueError):
        return wrong(f"the answer should be a number of floats (got {type(answer).__name__})")
    n, H, d = EX3_N, 4, 16
    kv, S, z = 2 * n * H * d, H * d * d, H * d
    expected = kv + 2 * (S + z)
    if a == expected:
        return right(f"{expected} floats: {kv} in layer 0's KV cache, {2 * (S + z)} in the two linear states")
    diagnoses = {kv // 2 + 2 * (S + z): "a softmax layer keeps both the keys and the values: 2 n H d_head",
                 kv + 2 * S: "each linear layer keeps the normaliser z (H d_head floats) next to S",
                 kv // H + 2 * (S + z) // H: "every one of the H = 4 heads keeps its own cache and state",
                 3 * kv: "only layer 0 is softmax; layers 1 and 2 keep fixed-size states",
                 kv + 2 * n * (S + z): "a linear layer's state does not grow with n: it is one S and one z",
                 kv + S + z: "two layers are linear, each with its own S and z"}
    if a in diagnoses:
        return wrong(diagnoses[a])
    return wrong(f"{a:g} is not right: add the softmax layer's keys and values and the linear layers' S and z")
