"""show() computes a slider's next step ahead (issue #16): after a move's picture is set, the setting one more
step in the same direction is computed and cached, so the next move of a student stepping a slider skips
compute(). Checked on a tiny panel whose compute() logs its calls: what is computed, when (after the picture),
under which key (the next move finds it), that a failing setting still shows its error, and that a cheap
compute is not run ahead."""
import types

import ipywidgets as w
import matplotlib
import pytest

matplotlib.use("Agg")

from linattn_edu import panels  # noqa: E402


def make_panel(log, fail_at=None):
    def compute(k=1, x=0.5):
        log.append(("compute", k))
        if k == fail_at:
            raise ValueError(f"k = {k} is not allowed")
        return {"k": k, "x": x}

    def draw(result, fig=None):
        fig = fig or panels.new_figure(panel)
        fig.clear()
        fig.add_subplot().set_title(f"k = {result['k']}")
        return fig

    def controls():
        return {"k": w.IntSlider(value=1, min=0, max=10, description="k")}

    panel = types.SimpleNamespace(__name__="test_prefetch_panel", DEFAULTS={"k": 1, "x": 0.5}, FIGSIZE=(3, 2),
                                  compute=compute, draw=draw, controls=controls)
    return panel


def shown(panel):
    """show(panel), its slider, its Image, and the renderer; image changes go into the panel's log."""
    import gc
    box = panels.show(panel)
    slider = box.children[0].children[0]
    image = next(c for c in box.children if isinstance(c, w.Image))
    error = box.children[-1]
    renderer = [o for o in gc.get_referrers(panel) if isinstance(o, panels.PanelRenderer)][0]
    return box, slider, image, error, renderer


@pytest.fixture
def slow(monkeypatch):
    monkeypatch.setattr(panels.PanelRenderer, "PREFETCH_MS", -1.0)     # every compute counts as slow


def test_next_step_per_kind():
    s = w.IntSlider(value=4, min=0, max=5)
    assert panels.next_step(s, 3, 4) == 5
    assert panels.next_step(s, 5, 4) == 3
    assert panels.next_step(s, 4, 5) is None                            # past max
    assert panels.next_step(s, 4, 4) is None                            # no move
    f = w.FloatSlider(value=0.2, min=0.0, max=1.0, step=0.1)
    assert panels.next_step(f, 0.1, 0.2) == pytest.approx(0.3)
    log = w.FloatLogSlider(value=100, base=10, min=0, max=3)
    assert panels.next_step(log, 10.0, 100.0) == pytest.approx(1000.0)
    assert panels.next_step(log, 100.0, 1000.0) is None                 # 10^4 > 10^max
    sel = w.SelectionSlider(options=["a", "b", "c"], value="b")
    assert panels.next_step(sel, "a", "b") == "c"
    assert panels.next_step(sel, "b", "a") is None                      # before the first option
    assert panels.next_step(w.Dropdown(options=[1, 2], value=2), 1, 2) is None
    assert panels.next_step(w.Checkbox(value=True), False, True) is None


def test_float_keys_match_at_12_digits():
    assert panels._freeze({"x": 1.2000000000000002}) == panels._freeze({"x": 1.2})
    assert panels._freeze({"x": 1.2001}) != panels._freeze({"x": 1.2})
    assert panels._freeze({"x": 1e-20}) != panels._freeze({"x": 0.0})


def test_next_step_is_computed_after_the_picture_and_found_by_the_next_move(slow):
    log = []
    panel = make_panel(log)
    box, slider, image, error, renderer = shown(panel)
    image.observe(lambda change: log.append(("image", None)), names="value")
    log.clear()
    slider.value = 2
    assert log == [("compute", 2), ("image", None), ("compute", 3)], log
    log.clear()
    slider.value = 3                                                    # the step computed ahead
    assert log == [("image", None), ("compute", 4)], log
    fresh = panels.PanelRenderer(panel)(**{**panel.DEFAULTS, "k": 3})
    assert panels.data_url_png(image.value) == fresh
    log.clear()
    slider.value = 1                                                    # back: 1 is cached (show's first picture)
    assert log == [("image", None)], log                               # 3 -> 1 asks for -1: past min, nothing ahead


def test_a_failing_step_ahead_still_shows_its_error(slow):
    log = []
    panel = make_panel(log, fail_at=3)
    box, slider, image, error, renderer = shown(panel)
    slider.value = 2                                                    # computes 3 ahead: it raises, quietly
    assert ("compute", 3) in log and not error.outputs
    before = image.value
    log.clear()
    with pytest.raises(ValueError, match="k = 3 is not allowed"):     # outside a kernel, show()'s Output
        slider.value = 3                                                # widget lets the error through
    assert log == [("compute", 3)], log                                # not cached: computed again, and raises
    assert image.value == before


def test_a_cheap_compute_is_not_run_ahead(monkeypatch):
    monkeypatch.setattr(panels.PanelRenderer, "PREFETCH_MS", 1e9)
    log = []
    panel = make_panel(log)
    box, slider, image, error, renderer = shown(panel)
    log.clear()
    slider.value = 2
    assert log == [("compute", 2)], log
