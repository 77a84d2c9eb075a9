"""Notebook 11 panel: compute on the committed model, draw at the default and a corner setting."""
import numpy as np
import pytest

from linattn_edu.panels import nb11_audit as panel


def test_compute_rows_are_distributions_and_metrics_match():
    r = panel.compute(**panel.DEFAULTS)
    assert len(r["p"]) == panel.DEFAULTS["row"] + 1
    assert r["p"].sum() == pytest.approx(1.0) and r["p_hat"].sum() == pytest.approx(1.0)
    assert r["tv"] == pytest.approx(0.5 * np.abs(r["p"] - r["p_hat"]).sum())
    assert r["top"][0] == int(np.argmax(r["p"]))
    assert 0 <= r["overlap"] <= 1


def test_draw_default_and_corner():
    fig = panel.draw(panel.compute(**panel.DEFAULTS))
    assert len(fig.axes) == 2
    fig = panel.draw(panel.compute(layer=2, head=3, window=panel.WINDOWS - 1, row=127, method="taylor"))
    assert fig.axes[0].get_title().startswith("layer 2 head 3")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="layer in"):
        panel.compute(layer=5)
