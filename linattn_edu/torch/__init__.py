"""The torch mirror: the same public names and arguments as ``linattn_edu.numpy``.

Batched (..., n, d), any device and dtype, differentiable. ``chunked_linear_attention`` is the fast
path (batched over chunks, state in float32 or wider); the others read like the NumPy derivations.
tests/test_mirror.py checks that every function here equals its NumPy twin to 1e-10 in float64.
"""
from .attention import softmax_attention, attention_weights
from .feature_maps import elu_plus_one, relu_features, taylor_features
from .random_features import gaussian_projection, trig_features, positive_features, hyperbolic_features
from .reassociation import kernel_attention, linear_attention
from .causal import recurrent_linear_attention, chunked_linear_attention
from .performer import performer_attention
from .low_rank import linformer_attention
from .gating import decayed_linear_attention, decay_mask
from .delta_rule import delta_rule_attention
from .gated_delta import gated_delta_rule_attention

__all__ = [
    "softmax_attention", "attention_weights",
    "elu_plus_one", "relu_features", "taylor_features",
    "gaussian_projection", "trig_features", "positive_features", "hyperbolic_features",
    "kernel_attention", "linear_attention",
    "recurrent_linear_attention", "chunked_linear_attention",
    "performer_attention", "linformer_attention",
    "decayed_linear_attention", "decay_mask", "delta_rule_attention",
    "gated_delta_rule_attention",
]
