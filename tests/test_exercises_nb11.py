import numpy as np

from linattn_edu.exercises import nb11 as ex


def test_ex1():
    assert ex.ex1(...).ok is None
    assert ex.ex1(0.4).ok is True
    fb = ex.ex1(0.8)
    assert fb.ok is False and "1/2" in fb.message


def test_ex2():
    import torch

    from linattn_edu import audit, lm
    assert ex.ex2(...).ok is None
    model, _, val = lm.load()
    x = val[:16].long()
    with torch.no_grad():
        q, k, _ = model.qkv(x[:, :-1])[0]
    A = audit.method_weights("softmax", q, k).numpy()
    rows = np.arange(8, 128)
    assert ex.ex2(A[:, :, rows, rows - 1].mean(axis=(0, 2))).ok is True
    fb = ex.ex2(A[:, :, rows, rows].mean(axis=(0, 2)))
    assert fb.ok is False and "A[i, i-1]" in fb.message
    assert ex.ex2(np.zeros(3)).ok is False


def test_ex3():
    assert ex.ex3(...).ok is None
    n, H, d = ex.EX3_N, 4, 16
    assert ex.ex3(2 * n * H * d + 2 * (H * d * d + H * d)).ok is True
    fb = ex.ex3(n * H * d + 2 * (H * d * d + H * d))              # only the keys (or only the values)
    assert fb.ok is False and "keys and the values" in fb.message
    fb = ex.ex3(2 * n * H * d + 2 * H * d * d)                    # forgot z
    assert fb.ok is False and "normaliser z" in fb.message
    fb = ex.ex3(3 * 2 * n * H * d)                                # every layer softmax
    assert fb.ok is False and "only layer 0" in fb.message
    assert ex.ex3(12345).ok is False and ex.ex3("many").ok is False
