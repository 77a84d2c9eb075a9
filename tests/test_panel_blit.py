"""A panel's update() (PanelRenderer's blit path, issue #16) must show what a fresh draw shows.

For every panel that defines update(): one live renderer is walked through the settings the corner
test renders (defaults, all-min, all-max, each control alone at each of its values), each reached from
the previous one by update(), as a student's slider moves are (the corner walk jumps between extremes, so it
re-takes the background more often than a student's small steps do). At every setting its picture is compared
with a fresh draw (a new figure, draw(), one plain Agg draw of everything: no blit, no sprite, so a bug in
PanelRenderer's blit or sprite code cannot hide in the reference): at most 0.01 % of the pixels may differ by more than 48 of 255 levels
(every panel measured 0.000 %; a line left stale by update() differs in ~0.2 %). Then a student's small
steps (each control one step from its default, the browser suite's moves) must include pure blits, or the
panel gained nothing.
"""
import io

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from linattn_edu import panels  # noqa: E402
from test_panel_corners import rendered_corners  # noqa: E402

MODULES = panels.panel_modules()
UPDATING = sorted(n for n, m in MODULES.items() if hasattr(m, "update"))
TOLERANCE = 1e-4              # share of pixels that may differ by more than 48 levels


def pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def differing(a, b, levels=48):
    assert a.shape == b.shape, f"picture sizes differ: {a.shape} vs {b.shape}"
    return float((np.abs(a - b).max(axis=-1) > levels).mean())


def fresh_png(mod, params):
    """The picture drawn from scratch: new figure on matplotlib's own FigureCanvasAgg (no glyph cache),
    draw(), one full Agg draw (no PanelRenderer)."""
    fig = panels.new_figure(mod, glyph_cache=False)
    with panels.panel_style():
        mod.draw(mod.compute(**params), fig=fig)
        fig.canvas.draw()
    return panels.encode_png(fig)


def walk(mod):
    """Defaults, all controls at their minimum, all at their maximum, then each control alone at each of
    corner values (rendered_corners, each setting once)."""
    controls = mod.controls()
    fixed = {k: v for k, v in mod.DEFAULTS.items() if k not in controls}
    seen, out = set(), []
    for c in rendered_corners(controls):
        key = panels._freeze(c)
        if key not in seen:
            seen.add(key)
            out.append({**fixed, **c})
    return out


@pytest.mark.parametrize("name", UPDATING)
def test_every_blit_looks_like_a_fresh_draw(name):
    mod = MODULES[name]
    live, modes, worst, fresh_at = panels.PanelRenderer(mod), [], (0.0, None), {}

    def fresh(params):                       # a fresh draw per setting, once
        key = panels._freeze(params)
        if key not in fresh_at:
            fresh_at[key] = pixels(fresh_png(mod, params))
        return fresh_at[key]

    for i, params in enumerate(walk(mod)):
        shown = pixels(live(**params))
        modes.append(live.last["mode"])
        if modes[-1] == "full" and i > 0:   # draw() rebuilt it: the fresh draw's own code path
            continue
        frac = differing(shown, fresh(params))
        worst = max(worst, (frac, params), key=lambda w: w[0])
        assert frac <= TOLERANCE, (f"{name}: after {i} moves the live picture differs from a fresh draw in "
                               f"{100 * frac:.2f} % of its pixels at {params} (update path: {modes[-1]})")
    moves = modes[1:]
    print(f"{name}: corner walk, {len(moves)} moves: {moves.count('blit')} blits, {moves.count('retake')} background "
          f"re-takes, {moves.count('full')} full draws; worst {100 * worst[0]:.3f} % pixels")
    steps = []
    for params in small_steps(mod):
        shown = pixels(live(**params))
        steps.append(live.last["mode"])
        if steps[-1] != "full":
            frac = differing(shown, fresh(params))
            assert frac <= TOLERANCE, f"{name}: a small step differs from a fresh draw in {100 * frac:.2f} % at {params}"
    print(f"{name}: small steps {steps}")
    import ipywidgets as w
    if any(isinstance(c, w.widgets.widget_int._Int) or isinstance(c, w.widgets.widget_float._Float)
           or isinstance(c, w.SelectionSlider) for c in mod.controls().values()):
        assert "blit" in steps, f"{name}: no small step of a slider was a pure blit: {steps}"


def small_steps(mod):
    """Defaults, then each control one step away from its default and back: a slider +step (-step at its
    max), the next option of a selection, a checkbox flipped."""
    import ipywidgets as w
    controls = mod.controls()
    fixed = {k: v for k, v in mod.DEFAULTS.items() if k not in controls}
    base = {**fixed, **{n: (tuple(c.value) if isinstance(c.value, tuple) else c.value) for n, c in controls.items()}}
    out = [base]
    for name, c in controls.items():
        if isinstance(c, w.SelectMultiple):
            continue
        if isinstance(c, (w.SelectionSlider, w.Dropdown, w.ToggleButtons, w.RadioButtons, w.Select)):
            opts = [o[1] if isinstance(o, tuple) else o for o in c.options]
            i = opts.index(c.value)
            new = opts[i + 1] if i + 1 < len(opts) else opts[i - 1]
        elif isinstance(c, (w.Checkbox, w.ToggleButton)):
            new = not c.value
        elif isinstance(c, w.FloatLogSlider):
            new = c.value * c.base ** (c.step if c.value * c.base ** c.step <= c.base ** c.max else -c.step)
        elif hasattr(c, "step") and hasattr(c, "max"):
            new = c.value + c.step if c.value + c.step <= c.max else c.value - c.step
        else:
            continue
        out += [{**base, name: new}, base]
    return out


def test_a_wrong_update_is_caught():
    """The check itself: an update() that forgets to move one artist must fail it."""
    mod = MODULES["nb07_decay"]
    params = {**mod.DEFAULTS, "half_life": 2.0}
    live = panels.PanelRenderer(mod)
    live(**mod.DEFAULTS)
    real = mod.update

    def forgetful(fig, result):
        changed = real(fig, result)
        fig._linattn["row"].set_ydata(np.zeros(result["n"]))      # the memory curve left flat
        return changed
    mod.update = forgetful
    try:
        shown = pixels(live(**params))
    finally:
        mod.update = real
    assert differing(shown, pixels(panels.PanelRenderer(mod)(**params))) > TOLERANCE


def test_nice_limit():
    got = [panels.nice_limit(x) for x in (0.0, -1.0, float("nan"), 0.3, 1.0, 1.01, 2.0, 4.9, 5.0, 7.0, 999.0)]
    assert got == [1.0, 1.0, 1.0, 0.5, 1.0, 2.0, 2.0, 5.0, 5.0, 10.0, 1000.0], got


def test_nice_limit_on_a_finer_grid_and_decade_limits():
    assert [panels.nice_limit(x, steps=(1, 1.5, 2, 3, 4, 6, 8)) for x in (1.2, 7.0, 8.5, 0.031)] == [1.5, 8.0, 10.0, 0.04]
    assert panels.decade_limits(0.03, 420.0) == (0.01, 1000.0)
