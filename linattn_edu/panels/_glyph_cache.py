"""Agg text drawing that keeps what it rendered: the same pixels as matplotlib's RendererAgg, faster.

Why. A slider move redraws the texts that changed (a number in a title, a legend entry, the tick labels of
a rescaled axis). matplotlib 3.11 draws a text by laying the string out with FreeType (``FT2Font._layout``,
about 0.5 ms a string) and rendering every glyph afresh (``_render_glyph``, about 60 us a glyph) at its
sub-pixel position: 3-5 ms a label, measured on the 2-core machine, most of a move's time in most panels.
Between two moves nearly all of that work repeats: the same strings, and the same glyphs at the same
sub-pixel offsets (digits share one advance width, so "0.31" -> "0.34" puts its glyphs where earlier
moves put glyphs).

What is kept, per renderer (one per panel figure and size):

    layouts   (font file, face, size, dpi, string, hinting, features, language) -> the laid-out glyphs
    glyphs    (font file, face, size, dpi, glyph, slant, extend, angle, x and y in 1/64 pixel mod 64,
               hinting, antialiasing) -> (bitmap, left, top) at that fractional offset

Exactness. matplotlib hands FreeType the glyph's position in 26.6 fixed point, ``p = 64 i + f`` with
``0 <= f < 64``. FreeType translates the (already hinted) outline by p before rasterising it, and a shift
by whole pixels moves the outline's control box, and so the bitmap's left and top, by exactly i pixels
without changing a single coverage value. So the glyph is rendered once at offset f and drawn at left + i,
top + j: the same call ``draw_text_image(bitmap, left, bottom)`` matplotlib makes, with the same bytes.
tests/test_glyph_cache.py compares every panel's picture drawn both ways, pixel for pixel.
"""
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.font_manager import fontManager, get_font
from matplotlib.ft2font import RenderMode

MAX_GLYPHS = 20_000        # bitmaps kept per renderer (a few hundred bytes each); cleared when full
MAX_LAYOUTS = 4_000        # strings kept per renderer


def _face(font):
    return font.fname, getattr(font, "face_index", 0)


def _font_height_metrics(prop, dpi):
    """(ascent, descent, line gap) in pixels, as matplotlib 3.11's Text._get_layout reads them from the font's
    OS/2 table (else hhea); (None, None, None) when it has neither, so that Text measures "lp" instead."""
    font = get_font(fontManager._find_fonts_by_props(prop))
    for table_name, gap_key, ascent_key, descent_key in (("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                                                         ("hhea", "lineGap", "ascent", "descent")):
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * dpi / 72
        return table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale
    return None, None, None


class GlyphCachingRendererAgg(RendererAgg):
    """RendererAgg whose text path reuses layouts and glyph bitmaps (see the module docstring)."""

    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self._layouts, self._glyphs, self._heights = {}, {}, {}
        self.glyph_counts = [0, 0]                      # reused, rendered: since the renderer was made

    def _get_font_height_metrics(self, prop):
        # the hook Text._get_layout asks a renderer for (ascent, descent, line gap of the font, in pixels);
        # without it every layout of every text reads two of the font's tables again (~0.3 ms). The same
        # numbers, computed as Text._get_layout computes them, kept per font properties.
        key = (tuple(prop.get_family()), prop.get_style(), prop.get_variant(), prop.get_weight(),
               prop.get_stretch(), prop.get_size_in_points(), prop.get_file(), prop.get_math_fontfamily(), self.dpi)
        hit = self._heights.get(key)
        if hit is None:
            hit = self._heights[key] = _font_height_metrics(prop, self.dpi)
        return hit

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        # the layout step of RendererAgg.draw_text, kept per string; mathtext goes the usual way
        if ismath:
            return self.draw_mathtext(gc, x, y, s, prop, angle)
        font = self._prepare_font(prop)
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        size = prop.get_size_in_points()
        flags = get_hinting_flag()
        key = (*_face(font), size, self.dpi, s, flags,
               None if features is None else tuple(features), language)
        items = self._layouts.get(key)
        if items is None:
            items = tuple((item.ft_object, size, item.glyph_index, 0, 1, item.x, item.y)
                          for item in font._layout(s, flags=flags, features=features, language=language))
            if len(self._layouts) >= MAX_LAYOUTS:
                self._layouts.clear()
            self._layouts[key] = items
        self._draw_text_glyphs_and_boxes(gc, x, y, angle, items, [])

    def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes):
        # RendererAgg._draw_text_glyphs_and_boxes with each glyph's bitmap kept (see the module docstring)
        if boxes:                                       # mathtext rules: matplotlib's own code path
            return super()._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, boxes)
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        load_flags = get_hinting_flag()
        antialiased = gc.get_antialiased()
        height = int(self.height)
        matrices = {}                                   # (slant, extend) -> FreeType's 16.16 matrix, for this angle
        for font, size, glyph_index, slant, extend, dx, dy in glyphs:  # dy is upwards
            matrix = matrices.get((slant, extend))
            if matrix is None:
                matrix = matrices[slant, extend] = (0x10000 * np.array([[cos, -sin], [sin, cos]])
                                                    @ [[extend, extend * slant], [0, 1]]).round().astype(int)
            px = round(0x40 * (x + dx * cos - dy * sin))                 # 26.6 fixed point, FreeType's y upwards
            py = round(0x40 * (self.height - y + dx * sin + dy * cos))
            ix, fx = divmod(px, 0x40)
            iy, fy = divmod(py, 0x40)
            key = (*_face(font), size, self.dpi, glyph_index, slant, extend, cos, sin, fx, fy, load_flags, antialiased)
            hit = self._glyphs.get(key)
            if hit is None:
                font.set_size(size, self.dpi)
                font._set_transform(matrix, [fx, fy])
                bitmap = font._render_glyph(glyph_index, load_flags,
                                            RenderMode.NORMAL if antialiased else RenderMode.MONO)
                buffer = np.array(bitmap.buffer, copy=True)
                if not antialiased:
                    buffer *= 0xff
                hit = (buffer, bitmap.left, bitmap.top)
                if len(self._glyphs) >= MAX_GLYPHS:
                    self._glyphs.clear()
                self._glyphs[key] = hit
                self.glyph_counts[1] += 1
            else:
                self.glyph_counts[0] += 1
            buffer, left, top = hit
            # draw_text_image's y is downwards and the bitmap's bottom side
            self._renderer.draw_text_image(buffer, left + ix, height - (top + iy) + buffer.shape[0], 0, gc)


class GlyphCachingCanvasAgg(FigureCanvasAgg):
    """FigureCanvasAgg drawing with a GlyphCachingRendererAgg (a new one when the size or dpi changes)."""

    def get_renderer(self):
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = GlyphCachingRendererAgg(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer
