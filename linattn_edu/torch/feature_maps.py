"""Deterministic feature maps phi with sim(q, k) = phi(q) . phi(k) >= 0 (torch mirror)."""
import math

import torch

from .._checks import check_array


def elu_plus_one(x):
    """phi(x) = elu(x) + 1 = x + 1 for x > 0, exp(x) otherwise (Katharopoulos et al. 2020, Eq. 7).  (..., d) -> (..., d).

    Written with exp(x) directly: F.elu(x) + 1 computes (exp(x) - 1) + 1, which rounds to exactly 0 for
    x < -17 in float32 (x < -37 in float64) and can then leave a row with zero similarity mass.
    """
    check_array("x", x, "torch")
    return torch.where(x > 0, x + 1.0, torch.exp(torch.clamp(x, max=0.0)))


def relu_features(x):
    """phi(x) = max(x, 0).  (..., d) -> (..., d). All-zero rows give 0 output, not NaN, in the attention functions."""
    check_array("x", x, "torch")
    return torch.relu(x)


def taylor_features(x):
    """phi(x) = [1, x, vec(x x^T)/sqrt(2)], so phi(q).phi(k) = 1 + q.k + (q.k)^2/2 exactly.  (..., d) -> (..., 1+d+d^2)."""
    check_array("x", x, "torch")
    d = x.shape[-1]
    outer = (x[..., :, None] * x[..., None, :]).reshape(*x.shape[:-1], d * d)   # (..., d*d); no -1: n may be 0
    ones = torch.ones(*x.shape[:-1], 1, dtype=x.dtype, device=x.device)
    return torch.cat([ones, x, outer / math.sqrt(2.0)], dim=-1)
