"""A panel's update() (PanelRenderer's blit path, issue #16) must show what a fresh draw shows.

For every panel that defines update(): one live renderer is walked through the settings the corner
test renders (defaults, all-min, all-max, each control alone at each of its values), each reached from
the previous one by update(), as a student's slider moves are. At every setting its picture is compared
with a fresh renderer's full draw: at most 0.2 % of the pixels may differ by more than 48 of 255 levels
(anti-aliasing at the edge of an artist drawn over, not with, its neighbours). And the blit path must be
taken for most moves, or the panel gained nothing.
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


def pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def differing(a, b, levels=48):
    assert a.shape == b.shape, f"picture sizes differ: {a.shape} vs {b.shape}"
    return float((np.abs(a - b).max(axis=-1) > levels).mean())


def walk(mod):
    controls = mod.controls()
    fixed = {k: v for k, v in mod.DEFAULTS.items() if k not in controls}
    return [{**fixed, **c} for c in rendered_corners(controls)]


@pytest.mark.parametrize("name", UPDATING)
def test_every_blit_looks_like_a_fresh_draw(name):
    mod = MODULES[name]
    live, modes, worst = panels.PanelRenderer(mod), [], (0.0, None)
    for i, params in enumerate(walk(mod)):
        shown = pixels(live(**params))
        modes.append(live.last["mode"])
        fresh = pixels(panels.PanelRenderer(mod)(**params))
        frac = differing(shown, fresh)
        worst = max(worst, (frac, params), key=lambda w: w[0])
        assert frac <= 0.002, (f"{name}: after {i} moves the live picture differs from a fresh draw in "
                               f"{100 * frac:.2f} % of its pixels at {params} (update path: {modes[-1]})")
    moves = modes[1:]
    print(f"{name}: {len(moves)} moves, {moves.count('blit')} blits; worst {100 * worst[0]:.3f} % pixels")
    assert moves.count("full") < len(moves), f"{name}: update() never spared a full draw: {modes}"


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
    assert differing(shown, pixels(panels.PanelRenderer(mod)(**params))) > 0.002


def test_nice_limit():
    got = [panels.nice_limit(x) for x in (0.0, -1.0, float("nan"), 0.3, 1.0, 1.01, 2.0, 4.9, 5.0, 7.0, 999.0)]
    assert got == [1.0, 1.0, 1.0, 0.5, 1.0, 2.0, 2.0, 5.0, 5.0, 10.0, 1000.0], got
