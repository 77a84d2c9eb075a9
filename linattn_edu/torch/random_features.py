"""Random features for the softmax kernel exp(x . y) (torch mirror of linattn_edu.numpy.random_features).

    trig        phi(x) = exp(|x|^2/2) / sqrt(m) [sin(w x), cos(w x)]            (2m features)
    positive    phi(x) = exp(w x - |x|^2/2) / sqrt(m)                           (m features)
    hyperbolic  phi(x) = exp(-|x|^2/2) / sqrt(2m) [exp(w x), exp(-w x)]          (2m features)

Given the same w (torch.from_numpy of a NumPy draw), these equal the NumPy maps. The draws of
gaussian_projection use torch's generator, so one seed gives different w in the two mirrors.
"""
import math

import torch

from .._checks import check_array, check_positive_int, check_projection, check_same_device, check_seed


def gaussian_projection(m, d, orthogonal=False, seed=None, dtype=torch.float64, device=None):
    """w: (m, d), rows w_i ~ N(0, I_d); orthogonal=True: block-orthogonal rows (QR with the sign fix),
    row norms resampled from chi(d) so each row stays marginally Gaussian; m > d stacks ceil(m/d) blocks."""
    check_positive_int("m", m)
    check_positive_int("d", d)
    seed = check_seed(seed)                          # None or an integer in [0, 2**63), as in the NumPy mirror
    gen = torch.Generator()
    if seed is not None:
        gen.manual_seed(seed)
    else:
        gen.seed()
    if not orthogonal:
        w = torch.randn(m, d, generator=gen, dtype=torch.float64)
    else:
        blocks = []
        for _ in range(-(-m // d)):                                  # ceil(m / d) independent blocks
            g = torch.randn(d, d, generator=gen, dtype=torch.float64)
            qmat, r = torch.linalg.qr(g)
            qmat = qmat * torch.sign(torch.diagonal(r))               # sign fix: Haar-distributed Q
            blocks.append(qmat.T)
        rows = torch.cat(blocks, dim=0)[:m]                          # (m, d), unit rows
        norms = torch.randn(m, d, generator=gen, dtype=torch.float64).norm(dim=1)   # chi(d)
        w = rows * norms[:, None]
    return w.to(dtype=dtype, device=device)


def _wx(x, w):
    check_array("x", x, "torch")
    check_projection("w", w, x.shape[-1], "torch")
    check_same_device(x=x, w=w)
    return x @ w.to(x.dtype).T                                        # (..., m)


def trig_features(x, w):
    """phi(x) = exp(|x|^2/2)/sqrt(m) [sin(w x), cos(w x)].  x: (..., d), w: (m, d) -> (..., 2m)."""
    wx = _wx(x, w)
    h = torch.exp(0.5 * (x * x).sum(-1, keepdim=True)) / math.sqrt(w.shape[0])
    return h * torch.cat([torch.sin(wx), torch.cos(wx)], dim=-1)


def positive_features(x, w):
    """phi(x) = exp(w x - |x|^2/2)/sqrt(m).  x: (..., d), w: (m, d) -> (..., m)."""
    wx = _wx(x, w)
    return torch.exp(wx - 0.5 * (x * x).sum(-1, keepdim=True)) / math.sqrt(w.shape[0])


def hyperbolic_features(x, w):
    """phi(x) = exp(-|x|^2/2)/sqrt(2m) [exp(w x), exp(-w x)].  x: (..., d), w: (m, d) -> (..., 2m)."""
    wx = _wx(x, w)
    h = torch.exp(-0.5 * (x * x).sum(-1, keepdim=True)) / math.sqrt(2 * w.shape[0])
    return h * torch.cat([torch.exp(wx), torch.exp(-wx)], dim=-1)
