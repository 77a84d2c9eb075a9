"""Context parallelism (linattn_edu.torch.parallel) equals the single-device forms: outputs, final
state and gradients, float64, on 2 and 3 gloo processes on the CPU, odd slice lengths, chunk sizes that
do not divide them, a handed-in state, both scan methods (all-gather and ring)."""
import itertools

import pytest
import torch

from linattn_edu.torch import parallel, parallel_check

TOL = 1e-10
LENGTHS = {2: [(9, 4), (1, 12)], 3: [(5, 8, 3), (4, 1, 6)]}


def _cases(P):
    cases = []
    for form, method, lengths in itertools.product(parallel_check.FORMS, parallel.METHODS, LENGTHS[P]):
        cases.append(dict(form=form, method=method, lengths=list(lengths), chunk_size=4))
    for form, method in itertools.product(parallel_check.FORMS, parallel.METHODS):   # hand-off + recurrent forms
        cases.append(dict(form=form, method=method, lengths=list(LENGTHS[P][0]), with_state=True,
                          chunk_size=None if form != "linear" else 3))
    return cases


@pytest.mark.parametrize("P", [2, 3])
def test_parallel_forms_equal_single_device(P):
    cases = _cases(P)
    per_rank = parallel.spawn(parallel_check.compare_many, P, cases)
    assert len(per_rank) == P
    for i, case in enumerate(cases):
        worst = {name: max(r[i].get(name, 0.0) for r in per_rank) for name in per_rank[0][i]}
        assert {"out", "state", "dq", "dk", "dv"} <= set(worst), (case, worst)
        assert max(worst.values()) < TOL, (case, worst)


def test_a_partial_backward_does_not_deadlock():
    # only the outputs in the loss and only dq asked for: autograd prunes the branches to k, v and the state,
    # yet every rank must still take part in every collective's backward (a hang here ends in TimeoutError)
    cases = [dict(form=f, method=m, lengths=[5, 8, 3]) for f, m in itertools.product(parallel_check.FORMS, parallel.METHODS)]
    per_rank = parallel.spawn(parallel_check.grad_of_q_only_many, 3, cases, timeout=240)
    worst = [max(r[i] for r in per_rank) for i in range(len(cases))]
    assert max(worst) < TOL, list(zip(cases, worst))


def test_bytes_on_the_wire():
    # all-gather receives P - 1 slice maps, the ring one state; neither depends on n. Ring attention grows with n.
    bh, d = 16, 64
    assert parallel.state_bytes("linear", 4, bh, d, d) == 3 * bh * d * (d + 1) * 4
    assert parallel.state_bytes("linear", 4, bh, d, d, method="ring") == bh * d * (d + 1) * 4
    assert parallel.state_bytes("delta", 2, bh, d, d) == bh * (d * d + d * d) * 4
    a, b = parallel.ring_attention_bytes(2 ** 16, 4, bh, d), parallel.ring_attention_bytes(2 ** 17, 4, bh, d)
    assert b == 2 * a == bh * 3 * 2 ** 15 * 2 * d * 2      # (P - 1) blocks of n/P keys and values, bf16


def test_needs_an_initialised_process_group():
    q = torch.randn(5, 3, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="init_process_group"):
        parallel.chunked_linear_attention(q, q, q, "elu_plus_one")
    with pytest.raises(ValueError, match="method must be one of"):
        parallel._scan("add", None, q, q, None, "tree")
