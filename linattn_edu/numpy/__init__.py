"""The NumPy mirror: the derivations, in float64, unbatched (n, d) or batched (..., n, d).

Same public names and arguments as ``linattn_edu.torch`` (tests/test_mirror.py checks this).
Written for float64 inputs. Other float dtypes are accepted, but NumPy's promotion rules turn many
results into float64 (a float64 constant such as np.sqrt(m) enters); to study float32/bfloat16/float16
arithmetic use the torch mirror, which keeps the input dtype.
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
