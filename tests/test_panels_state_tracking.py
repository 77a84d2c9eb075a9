"""Panel of notebook 08's state-tracking section: the hand-built parity layer against its closed form."""
import numpy as np
import pytest

from linattn_edu.panels import nb08_state_tracking as panel

EXACT = 1e-10


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 1.5, 2.0])
def test_outputs_are_powers_of_the_eigenvalue(beta):
    r = panel.compute(beta=beta, length=24, seed=3)
    ones = np.concatenate([[0], np.cumsum(r["bits"])])          # number of 1s read so far
    assert np.abs(r["o"] - (1 - beta) ** ones).max() < EXACT
    assert r["eigenvalue"] == 1 - beta


def test_negative_eigenvalue_is_needed():
    """beta > 1 reads every prefix's parity; beta <= 1 reads only the even ones (sign never flips)."""
    for beta in (1.2, 1.7, 2.0):
        assert panel.compute(beta=beta, length=40, seed=1)["accuracy"] == 1.0
    for beta in (0.3, 0.9):                  # 1.0 would give o = 0 after the first 1: sign 0, read as even
        r = panel.compute(beta=beta, length=40, seed=1)
        assert r["accuracy"] == np.mean(r["parity"][1:] == 0) < 1.0


def test_draw_runs():
    fig = panel.draw(panel.compute(**panel.DEFAULTS))
    assert len(fig.axes) == 2
