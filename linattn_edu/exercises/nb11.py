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
