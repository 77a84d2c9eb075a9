"""The glyph cache (linattn_edu/panels/_glyph_cache.py) draws the very pixels matplotlib's RendererAgg draws.

For every panel, a walk of slider steps and control changes (as a student makes them) through one live
PanelRenderer, whose texts reuse layouts and glyph bitmaps from earlier moves at other positions; after
each move the picture must equal, byte for byte, a from-scratch draw on matplotlib's plain FigureCanvasAgg
drawn the way the renderer drew it (draw(), update(), one full Agg draw). A wrong whole-pixel shift, a
fractional offset keyed wrongly or a stale bitmap moves or changes glyph pixels and fails here.
"""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from benchmarks.panels import next_value  # noqa: E402
from linattn_edu import panels  # noqa: E402
from linattn_edu.panels._glyph_cache import GlyphCachingRendererAgg  # noqa: E402

MODULES = panels.panel_modules()


def plain_picture(mod, res):
    fig = panels.new_figure(mod, glyph_cache=False)
    with panels.panel_style():
        mod.draw(res, fig=fig)
        if hasattr(mod, "update"):
            mod.update(fig, res)
        fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def cached_full_picture(renderer, params):
    """The renderer's figure brought to params, then one full Agg draw through the glyph-caching renderer."""
    fig = renderer.figure(params)
    renderer._unanimate(forget_sprites=True)
    with panels.panel_style():          # as PanelRenderer draws: ticks made at draw time take these sizes
        fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_cached_glyphs_give_matplotlibs_pixels(name):
    mod = MODULES[name]
    renderer = panels.PanelRenderer(mod)
    controls = mod.controls()
    params = dict(mod.DEFAULTS)
    moves = [None] + [(k, c) for k, c in controls.items() for _ in range(2)]
    for i, move in enumerate(moves):
        if move is not None:
            key, control = move
            control.value = next_value(control)
            params[key] = control.value
        shown = cached_full_picture(renderer, params)
        ref = plain_picture(mod, renderer.result(params))      # the same (cached) compute result
        assert shown.shape == ref.shape
        bad = np.argwhere((shown != ref).any(axis=-1))
        assert not len(bad), (f"{name}: after move {i} ({move and move[0]}={params.get(move and move[0])}) "
                              f"{len(bad)} pixels differ from matplotlib's own Agg draw, first at (row, col) {bad[0]}")
    counts = renderer.fig.canvas.get_renderer()
    assert isinstance(counts, GlyphCachingRendererAgg)
    assert counts.glyph_counts[0] > counts.glyph_counts[1], \
        f"{name}: the cache reused {counts.glyph_counts[0]} glyphs and rendered {counts.glyph_counts[1]}"
