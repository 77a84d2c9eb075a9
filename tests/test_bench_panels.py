"""benchmarks/panels.py's walk (issue #16): the in-process stand-in for the browser suite's moves must move
each kind of control as tests/browser's change_control does, and count one sample per move."""
import ipywidgets as w
import pytest

from benchmarks import panels as bench
from linattn_edu.panels import panel_modules


@pytest.mark.parametrize("widget, expected", [
    (w.IntSlider(value=3, min=0, max=10, step=2), 5),                         # one step up
    (w.IntSlider(value=10, min=0, max=10, step=2), 8),                        # at the top: one step down
    (w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.25), 0.75),
    (w.FloatLogSlider(value=100.0, base=10, min=0, max=3, step=1), 1000.0),
    (w.FloatLogSlider(value=1000.0, base=10, min=0, max=3, step=1), 100.0),
    (w.SelectionSlider(options=[1, 2, 4], value=2), 4),
    (w.SelectionSlider(options=[("a", 1), ("b", 2)], value=2), 1),
    (w.Dropdown(options=[("x", "p"), ("y", "q")], value="q"), "p"),           # the first other option
    (w.SelectMultiple(options=["a", "b", "c"], value=("a",)), ("b",)),         # the first unselected, alone
    (w.Checkbox(value=False), True),
])
def test_next_value_moves_like_the_browser(widget, expected):
    assert bench.next_value(widget) == pytest.approx(expected) if isinstance(expected, float) else \
        bench.next_value(widget) == expected


def test_walk_times_every_move():
    panel = panel_modules()["nb03_state"]
    controls = panel.controls()
    sliders = sum(isinstance(c, (w.IntSlider, w.FloatSlider, w.FloatLogSlider, w.SelectionSlider))
                  for c in controls.values())
    r = bench.time_walk(panel)
    assert r["walk_moves"] == len(r["walk_samples_ms"]) == bench.WALK_SLIDER_MOVES * sliders + len(controls) - sliders
    assert sum(r["walk_modes"].values()) == r["walk_moves"] and r["walk_median_ms"] > 0


def test_steal_percent_reads_the_steal_column_of_proc_stat(tmp_path):
    from benchmarks.machine import cpu_times, steal_percent
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 0 20 800 0 0 0 80 0 0\ncpu0 50 0 10 400 0 0 0 40 0 0\n")
    before = cpu_times(stat)
    stat.write_text("cpu  160 0 30 900 0 0 0 130 0 0\n")
    after = cpu_times(stat)
    assert before[7] == 80 and after[7] == 130
    # 50 stolen of 60 + 10 + 100 + 50 = 220 ticks; guest time (already inside user) is not counted twice
    assert steal_percent(before, after) == round(100 * 50 / 220, 1)
    assert steal_percent(before, before) is None and steal_percent(None, after) is None
    assert cpu_times(tmp_path / "missing") is None
