"""Triton kernels for causal linear attention (optional: ``pip install -e ".[kernels]"``).

Nothing else in linattn_edu imports this package; importing it without Triton raises ImportError
with the install command. On a machine without a GPU, set TRITON_INTERPRET=1 before importing
triton: the same kernels then run in Triton's interpreter on CPU tensors (slow, exact, for tests and
notebook 13).

    from linattn_edu.kernels import chunked_linear_attention
    out, (S, z) = chunked_linear_attention(q, k, v, "elu_plus_one", chunk_size=64, normalise=True)
"""
try:
    import triton  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError('linattn_edu.kernels needs Triton: pip install -e ".[kernels]"') from e

from .chunked import (chunk_output_kernel, chunk_input_grads_kernel, chunk_state_grads_kernel,
                      chunk_sums_kernel, chunked_linear_attention, scan_kernel, LinearAttentionFunction)

__all__ = ["chunked_linear_attention", "LinearAttentionFunction", "chunk_sums_kernel", "scan_kernel",
           "chunk_output_kernel", "chunk_state_grads_kernel", "chunk_input_grads_kernel"]
