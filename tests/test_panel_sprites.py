"""PanelRenderer's sprites (issue #16): a text, legend or axis that looks as it did on the last blit is
pasted, not drawn again, and the pasted picture must equal a direct draw.

A tiny panel made here has a title that changes with ``k``, a fixed label in axes coordinates, an
annotation whose point moves with ``x``, a legend over a moving line, a label whose colour follows
``red`` and an x axis whose ticks are set afresh on every move (``ticks`` of them). Every blit is compared with a fresh renderer's draw of the same setting; the sprite counts show
what was pasted. The PNG encoder is checked against the Agg buffer it encodes.
"""
import io
import types

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from linattn_edu import panels  # noqa: E402
from test_panel_blit import fresh_png  # noqa: E402


def _compute(k=1, x=0.3, red=False, ticks=3):
    return {"k": k, "x": x, "red": red, "ticks": ticks}


def _draw(result, fig=None):
    fig = fig or panels.new_figure(PANEL)
    fig.clear()
    ax = fig.subplots()
    line, = ax.plot([0, 1], [0, 1], color="C0", label="a line that moves")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    title = ax.set_title("")
    fixed = ax.text(0.02, 0.9, "a label that never changes", transform=ax.transAxes)
    note = ax.annotate("the point x", (0.3, 0.5), xytext=(0.1, 0.2), textcoords="axes fraction",
                       arrowprops=dict(arrowstyle="->"))          # the text stays, the arrow's tip moves
    flag = ax.text(0.6, 0.1, "colour follows red", transform=ax.transAxes)
    legend = ax.legend(loc="upper right")
    fig._t = dict(line=line, title=title, fixed=fixed, note=note, flag=flag, legend=legend, spines=tuple(ax.spines.values()))
    _update(fig, result)
    return fig


def _set_ticks(ax, count):
    """count x ticks, set afresh on every move (as a panel whose axis is drawn on a moving frame does)."""
    from matplotlib.ticker import FixedFormatter, FixedLocator
    locs = np.linspace(0, 1, count)
    ax.xaxis.set_major_locator(FixedLocator(locs))
    ax.xaxis.set_major_formatter(FixedFormatter([f"{v:.2f}" for v in locs]))


def _update(fig, result):
    a = getattr(fig, "_t", None)
    if a is None:
        return False
    a["line"].set_ydata([result["x"], 1 - result["x"]])
    a["title"].set_text(f"k = {result['k']}")
    a["note"].xy = (result["x"], 0.5)
    a["flag"].set_color("red" if result["red"] else "black")
    ax = a["line"].axes
    _set_ticks(ax, result["ticks"])
    return [a["line"], *a["spines"], ax.xaxis, a["title"], a["fixed"], a["note"], a["flag"], a["legend"]]   # in z-order


PANEL = types.SimpleNamespace(__name__="test_sprite_panel", DEFAULTS=_compute.__defaults__, FIGSIZE=(6, 3),
                              compute=_compute, draw=_draw, update=_update)
PANEL.DEFAULTS = {"k": 1, "x": 0.3, "red": False, "ticks": 3}


def pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def fresh(params):
    return pixels(fresh_png(PANEL, params))


def test_unchanged_texts_are_pasted_and_look_as_drawn():
    live = panels.PanelRenderer(PANEL)
    live(**PANEL.DEFAULTS)                                  # draw() + background
    counts = []
    for params in [dict(k=2), dict(k=2, x=0.35), dict(k=3, x=0.35), dict(k=3, x=0.35, red=True), dict(k=1)]:
        params = {**PANEL.DEFAULTS, **params}
        shown = pixels(live(**params))
        assert live.last["mode"] == "blit", live.last
        counts.append(live.last["sprites"])
        diff = np.abs(shown - fresh(params)).max()
        assert diff <= 2, f"a blit with sprites differs from a fresh draw by {diff} levels at {params}"
    pasted = [c[0] for c in counts]
    # 4 texts, the x axis and the legend are unchanged on most moves; the first blit after draw() may draw
    # them once
    assert max(pasted[1:]) >= 4, counts
    # x moved: the annotation is drawn again (a sprite at the old point would be wrong), the title is pasted
    assert counts[1][1] >= 1 and counts[1][0] >= 3, counts


@pytest.mark.parametrize("change", ["moved annotation", "new colour", "new text", "new ticks"])
def test_a_changed_text_is_not_pasted_stale(change):
    """A key that missed one of these would paste the old picture; the fresh draw then differs."""
    live = panels.PanelRenderer(PANEL)
    base = dict(PANEL.DEFAULTS)
    live(**base)
    live(**base)                                            # every sprite taken at the base setting
    new = {"moved annotation": dict(x=0.7), "new colour": dict(red=True), "new text": dict(k=42),
           "new ticks": dict(ticks=5)}[change]
    params = {**base, **new}
    shown = pixels(live(**params))
    assert live.last["mode"] == "blit"
    differs = (np.abs(shown - fresh(params)).max(axis=-1) > 48).sum()
    assert differs == 0, f"{change}: {differs} pixels differ from a fresh draw (a stale sprite was pasted)"


def test_png_is_the_agg_buffer():
    live = panels.PanelRenderer(PANEL)
    png = live(**PANEL.DEFAULTS)
    rgba = np.asarray(live.fig.canvas.buffer_rgba())
    decoded = np.asarray(Image.open(io.BytesIO(png)))
    assert decoded.shape == rgba.shape, (decoded.shape, rgba.shape)          # RGBA, as Agg keeps it
    assert np.array_equal(decoded, rgba)
    assert (decoded[..., 3] == 255).all(), "a panel's picture is opaque (white figure patch)"
