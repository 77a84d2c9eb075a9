"""Bad input fails at the public function with a message that names the argument."""
import functools

import numpy as np
import pytest
import torch

from linattn_edu import numpy as lnp, torch as lt

MIRRORS = [lnp, lt]


def _arr(mod, *shape, dtype=None):
    a = np.random.default_rng(0).standard_normal(shape)
    if dtype is not None:
        a = a.astype(dtype)
    return torch.from_numpy(a) if mod is lt else a


@pytest.mark.parametrize("mod", MIRRORS, ids=["numpy", "torch"])
class TestBadInput:
    def test_q_k_width_mismatch_names_both_shapes(self, mod):
        with pytest.raises(ValueError, match=r"q and k must share the last dimension.*q: \(10, 8\).*k: \(10, 4\)"):
            mod.softmax_attention(_arr(mod, 10, 8), _arr(mod, 10, 4), _arr(mod, 10, 3))

    def test_k_v_length_mismatch(self, mod):
        with pytest.raises(ValueError, match=r"k and v must have the same sequence length.*v: \(9, 3\)"):
            mod.linear_attention(_arr(mod, 10, 4), _arr(mod, 10, 4), _arr(mod, 9, 3), "elu_plus_one")

    def test_wrong_rank(self, mod):
        with pytest.raises(ValueError, match=r"q must have at least 2 dimensions"):
            mod.softmax_attention(_arr(mod, 8), _arr(mod, 10, 8), _arr(mod, 10, 3))

    def test_batch_mismatch(self, mod):
        with pytest.raises(ValueError, match=r"same batch dimensions"):
            mod.kernel_attention(_arr(mod, 2, 10, 4), _arr(mod, 3, 10, 4), _arr(mod, 3, 10, 3), "elu_plus_one")

    def test_integer_dtype(self, mod):
        q = _arr(mod, 5, 4, dtype=np.int64)
        with pytest.raises(TypeError, match=r"q must have a floating-point dtype"):
            mod.softmax_attention(q, q, q)

    def test_chunk_size_below_one(self, mod):
        q = _arr(mod, 10, 4)
        with pytest.raises(ValueError, match=r"chunk_size must be >= 1"):
            mod.chunked_linear_attention(q, q, q, "elu_plus_one", chunk_size=0)
        with pytest.raises(TypeError, match=r"chunk_size must be an integer"):
            mod.chunked_linear_attention(q, q, q, "elu_plus_one", chunk_size=2.5)

    def test_m_below_one(self, mod):
        with pytest.raises(ValueError, match=r"m must be >= 1"):
            mod.gaussian_projection(0, 4)

    def test_projection_width(self, mod):
        x = _arr(mod, 10, 4)
        with pytest.raises(ValueError, match=r"w must have shape \(m, d\) with d = 4.*w: \(16, 5\)"):
            mod.positive_features(x, _arr(mod, 16, 5))
        with pytest.raises(ValueError, match=r"w must have shape"):
            mod.performer_attention(x, x, x, _arr(mod, 16, 5))

    def test_performer_kind(self, mod):
        x = _arr(mod, 10, 4)
        with pytest.raises(ValueError, match=r"kind must be one of"):
            mod.performer_attention(x, x, x, _arr(mod, 16, 4), kind="relu")

    def test_state_shape(self, mod):
        x = _arr(mod, 10, 4)
        with pytest.raises(ValueError, match=r"state \(S, z\) must have S: \(4, 4\) and z: \(4,\)"):
            mod.recurrent_linear_attention(x, x, x, "elu_plus_one", state=(_arr(mod, 3, 4), _arr(mod, 4)))

    def test_unknown_phi_name(self, mod):
        x = _arr(mod, 10, 4)
        with pytest.raises(ValueError, match=r"phi = 'elu' is not a feature map name"):
            mod.linear_attention(x, x, x, "elu")

    def test_phi_that_changes_length(self, mod):
        x = _arr(mod, 10, 4)
        with pytest.raises(ValueError, match=r"phi must map \(\.\.\., n, d\) to \(\.\.\., n, m\)"):
            mod.linear_attention(x, x, x, lambda t: t[:5])

    def test_causal_needs_square(self, mod):
        with pytest.raises(ValueError, match=r"causal attention needs as many queries as keys"):
            mod.softmax_attention(_arr(mod, 5, 4), _arr(mod, 10, 4), _arr(mod, 10, 3), causal=True)

    def test_linformer_projection_shape(self, mod):
        x = _arr(mod, 10, 4)
        with pytest.raises(ValueError, match=r"E must have shape \(k, n\) with n = 10.*E: \(3, 9\)"):
            mod.linformer_attention(x, x, x, _arr(mod, 3, 9), _arr(mod, 3, 10))

    def test_bad_scale(self, mod):
        x = _arr(mod, 10, 4)
        with pytest.raises(ValueError, match=r"scale must be a positive finite number"):
            mod.softmax_attention(x, x, x, scale=-1.0)


def test_numpy_and_torch_mixed_in_one_call():
    q = np.zeros((5, 4))
    with pytest.raises(TypeError, match=r"k must be one of the NumPy arrays.*k is a torch array"):
        lnp.softmax_attention(q, torch.zeros(5, 4, dtype=torch.float64), q)
    with pytest.raises(TypeError, match=r"q must be one of the torch tensors.*q is a numpy array"):
        lt.linear_attention(q, torch.zeros(5, 4), torch.zeros(5, 4), "elu_plus_one")


def test_lists_are_rejected_with_a_hint():
    with pytest.raises(TypeError, match=r"q must be one of the NumPy arrays.*got builtins\.list"):
        lnp.softmax_attention([[1.0]], np.ones((1, 1)), np.ones((1, 1)))


def test_mixed_dtypes_in_torch():
    q = torch.zeros(5, 4)
    with pytest.raises(TypeError, match=r"q, k and v must share one dtype"):
        lt.softmax_attention(q, q.double(), q)
