"""The shared panel UI: every panel module follows the compute/draw/DEFAULTS convention, and show()
wires controls to it (one redraw per change). The browser suite checks the same in a real front end."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.figure  # noqa: E402
import pytest  # noqa: E402

from linattn_edu import panels  # noqa: E402

MODULES = panels.panel_modules()


def test_there_are_panels():
    assert MODULES, "linattn_edu/panels holds no panel module"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_panel_convention(name):
    mod = MODULES[name]
    assert isinstance(mod.DEFAULTS, dict)
    result = mod.compute(**mod.DEFAULTS)
    assert isinstance(result, dict)
    fig = mod.draw(result)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert fig.axes, f"{name}.draw drew no axes"
    matplotlib.pyplot.close(fig)


def _numeric_default():
    for name in sorted(MODULES):
        for key, value in MODULES[name].DEFAULTS.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return name, key, value
    raise AssertionError("no panel has a numeric parameter to drive with a slider")


def test_show_redraws_on_change(monkeypatch):
    import ipywidgets

    name, key, value = _numeric_default()
    mod = MODULES[name]
    calls = []
    real = mod.compute

    def counting(**params):
        calls.append(params)
        return real(**params)

    monkeypatch.setattr(mod, "compute", counting)
    slider = (ipywidgets.IntSlider if isinstance(value, int) else ipywidgets.FloatSlider)(
        value=value, min=min(value, 0), max=max(value, 1) * 2)
    box = panels.show(mod, **{key: slider})
    assert "linattn-panel" in box._dom_classes and f"linattn-panel-{name}" in box._dom_classes
    n0 = len(calls)
    slider.value = slider.max
    assert len(calls) == n0 + 1 and calls[-1][key] == slider.max
