"""Interactive panels for the notebooks: each is a pure ``compute`` plus a thin ``draw``.

Convention (tests, the panel benchmark, the book and the figures command rely on it). A panel is a
module in this package that defines

    DEFAULTS: dict            keyword arguments of compute() at the notebook's default slider values
    FIGSIZE: (w, h)           inches; at PANEL_DPI the live picture is w * PANEL_DPI pixels wide
    compute(**params) -> dict the numbers the picture shows (arrays, floats); no matplotlib, no widgets
    draw(result, fig=None) -> matplotlib.figure.Figure
    controls() -> dict        name -> ipywidget: the panel's controls, with units and hints in their
                              labels. The one source of truth for their ranges: show(panel) uses them,
                              and tests/test_panel_corners.py runs compute + draw at every corner.
    update(fig, result)       optional: bring a figure draw() made to a new result. Return the
                              artists it changed (PanelRenderer blits them over the rest of the
                              picture), True (changed in place, draw it all) or False (call draw()).
                              A panel with update() keeps its axes limits put where it can
                              (nice_limit), so most moves are blits; tests/test_panel_blit.py checks
                              that every blit looks like a fresh draw.

``show(panel)`` wires the controls to compute + draw. It is the only UI code; the library below never
imports matplotlib or ipywidgets. The box it returns carries the CSS class ``linattn-panel`` (and
``linattn-panel-<module name>``) so the browser tests can find it.

Legibility: every text in a panel is at least BODY_TEXT_PX pixels high in the PNG (JupyterLab's body
text, 14 px, at default zoom), because panels are drawn under ``panel_style()`` and the PNG is shown at
its natural size (PANEL_DPI pixels per inch).
"""
import collections
import importlib
import io
import pkgutil
import time

PANEL_DPI = 80            # pixels per inch of the slider images: a 10-inch panel is 800 px wide
BODY_TEXT_PX = 14         # JupyterLab's notebook body text (--jp-content-font-size1) at 100 % zoom
TEXT_PT = BODY_TEXT_PX * 72 / PANEL_DPI      # 12.6 pt: the smallest text a panel may use
SMALL_PT = TEXT_PT                            # kept as a name for legends/annotations: never smaller

STYLE = {
    "font.size": TEXT_PT, "axes.titlesize": TEXT_PT, "axes.labelsize": TEXT_PT,
    "xtick.labelsize": TEXT_PT, "ytick.labelsize": TEXT_PT, "legend.fontsize": TEXT_PT,
    "figure.titlesize": TEXT_PT, "legend.framealpha": 0.85, "legend.borderpad": 0.3,
    "legend.handlelength": 1.6, "legend.labelspacing": 0.25, "axes.titlepad": 4.0,
    "figure.dpi": PANEL_DPI, "savefig.dpi": PANEL_DPI,
    # FreeType loads every glyph of a new string twice (its size, then its layout for drawing); unhinted
    # loading took 3.2 ms against 3.9 ms (process time, median of 200) for a changed two-line title, and the
    # 14 px text looks the same
    "text.hinting": "no_hinting",
}


def panel_style():
    """matplotlib rc settings every panel is drawn under (text sizes >= TEXT_PT)."""
    import matplotlib
    return matplotlib.rc_context(STYLE)


def new_figure(panel, glyph_cache=True):
    """A Figure of the panel's FIGSIZE on an Agg canvas, not registered with pyplot (never shown twice).

    glyph_cache: draw its texts through _glyph_cache.GlyphCachingCanvasAgg, which keeps each string's layout
    and each glyph's bitmap between moves (the same pixels as matplotlib's FigureCanvasAgg, several times
    faster for the texts a move redraws); False gives the plain FigureCanvasAgg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ._glyph_cache import GlyphCachingCanvasAgg
    fig = Figure(figsize=getattr(panel, "FIGSIZE", (10, 3.6)), dpi=PANEL_DPI)
    (GlyphCachingCanvasAgg if glyph_cache else FigureCanvasAgg)(fig)
    return fig


def encode_png(fig):
    """PNG bytes of the figure's current Agg buffer (no second draw): RGBA, 8 bits, no row filter, zlib level 1.

    Written here rather than by PIL because PIL tries five row filters per row: 6.4 ms for an 800 x 288
    panel against 3.8 ms here, at the same size (~42 kB), measured. The alpha channel is kept although a
    panel is opaque (its figure patch is white): Agg's buffer is RGBA, and copying it into RGB rows took
    2.6 ms of an 800 x 320 picture's 6.1 ms, against 0.1 ms for RGBA rows, whose constant alpha bytes add
    0.8 ms of deflate and 14 % to the file (measured 2026-12-03). Compressing again only the bands of rows
    that changed since the last move saved under 0.5 ms a move (a moving curve crosses most bands), so each
    picture is compressed whole."""
    import struct
    import zlib

    import numpy as np
    rgba = np.asarray(fig.canvas.buffer_rgba())                 # (h, w, 4) uint8
    h, w = rgba.shape[:2]
    rows = np.empty((h, 1 + 4 * w), dtype=np.uint8)             # each row: filter byte 0, then R G B A ...
    rows[:, 0] = 0
    rows[:, 1:] = rgba.reshape(h, 4 * w)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)        # 8-bit RGBA, deflate, no filter, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1))
            + chunk(b"IEND", b""))


PNG_DATA_URL = b"data:image/png;base64,"


def png_data_url(png):
    """The picture as the bytes of a data: URL, which panels.show gives its Image widget (format "url").

    With format "png" the widget's view wraps the bytes in a Blob and shows an object URL; Chromium
    fetches a blob: URL through its browser process before decoding it. A data: URL is decoded in the
    page: 13 ms against 25 ms median for a 41 kB panel picture, 20 distinct pictures each way, headless
    Chromium 150 on the 2-core machine under load (measured 2026-12-02). The base64 text is a third
    larger on the local websocket, which costs nothing measurable."""
    import base64
    return PNG_DATA_URL + base64.b64encode(png)


def data_url_png(url):
    """The PNG bytes back from png_data_url's URL (ValueError if it is not one)."""
    import base64
    url = bytes(url)
    if not url.startswith(PNG_DATA_URL):
        raise ValueError(f"url: expected a data:image/png;base64 URL, got {url[:40]!r}")
    return base64.b64decode(url[len(PNG_DATA_URL):], validate=True)


def render_png(fig, dpi=PANEL_DPI):
    """PNG bytes of a figure, drawn once (no tight bounding box, which would draw it twice)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _freeze(value):
    """A hashable cache key of compute()'s arguments; floats by 12 significant digits (a slider's value
    summed step by step, 1.2000000000000002, is the same setting as 1.2)."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


class PanelRenderer:
    """One slider update: compute -> draw (in place when the panel can) -> PNG bytes.

    Used by show() and timed by benchmarks/panels.py. One Figure lives as long as the panel. After
    compute (cached: the last CACHE_SIZE settings, so dragging a slider back and forth computes each
    setting once) the panel's optional update(fig, result) says how much of the picture changed:

        False / None      rebuild: draw(result, fig) and a full Agg draw           ("full")
        True              artists changed in place, a full Agg draw                 ("in_place")
        [artist, ...]     only these changed: blit. They are marked animated, the rest of the figure
                          is drawn once and kept as a background; a move restores that background and
                          draws just these artists over it                           ("blit")

    A blit redraws the background when the set of artists or any axes' limits changed since it was
    taken, so a panel that rescales an axis still gets a correct picture ("retake": a full Agg draw,
    but no draw()). After every draw() of a panel that has update(), the background is taken at once,
    so the next move is a pure blit. The PNG is encoded from the Agg buffer (no second draw).
    ``last["mode"]`` says which path the last update took: full, in_place, retake or blit.

    Text is most of a blit's cost (Agg lays out and rasterises every glyph: ~2 ms a label, 6-16 ms a
    legend, measured), and most changed-artist lists hold texts that look the same as on the last move
    (a legend kept on top of moving lines, a title whose number came back). So a blit keeps each text
    and legend it drew as a sprite: its pixels drawn alone on a transparent buffer, keyed by everything
    that decides how it looks (``sprite_key``). A later blit of the same artist with the same key pastes
    the sprite ("over" compositing, what Agg does when it draws the text itself) instead of drawing it.
    An artist whose key was new on more than VOLATILE blits in a row (a number that changes with every move)
    is drawn straight onto the picture instead, and its key noted: when a noted key comes back (the slider
    went back) it is kept as a sprite again. A rebuild forgets the sprites.
    ``last["sprites"]`` counts (pasted, drawn) texts. The changed
    artists are drawn in the order a plain draw stacks them (``in_draw_order``), whatever order update() lists.
    """

    CACHE_SIZE = 64
    PREFETCH_MS = 5.0     # show() computes the next step of a slider ahead when a compute took longer than this
    SPRITE_CACHE_SIZE = 256
    VOLATILE = 2          # an artist new on this many blits in a row (a number that changes with every move) is
                          # drawn straight onto the picture, not kept as a sprite: keeping one costs ~0.6 ms

    def __init__(self, panel, dpi=PANEL_DPI):
        self.panel, self.dpi, self.fig = panel, dpi, None
        self.cache = collections.OrderedDict()
        self.last = {"in_place": False, "mode": "full"}
        self._background = None                  # (key, saved Agg region) of the last blit background
        self._animated = ()
        self._sprites = {}                       # (id(artist), sprite_key) -> (y0, x0, rgba) or None
        self._misses = {}                        # id(artist) -> blits in a row whose key was new (see _draw_artist)
        self._seen = set()                       # keys of artists drawn without keeping a sprite
        self._sprite_counts = [0, 0]             # pasted, drawn: of the last blit
        self.last_compute_ms = 0.0               # how long the last compute() that ran took (cache hits aside)

    def result(self, params):
        key = _freeze(params)
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        t0 = time.perf_counter()
        res = self.panel.compute(**params)
        self.last_compute_ms = (time.perf_counter() - t0) * 1e3
        self.cache[key] = res
        if len(self.cache) > self.CACHE_SIZE:
            self.cache.popitem(last=False)
        return res

    def prefetch(self, params):
        """Compute (and cache) the numbers of a setting the user is likely to ask for next, after the picture
        of this one went out: show() calls it with the slider one more step the way it last moved, when
        computing took more than PREFETCH_MS. True if it computed; a setting whose compute raises is
        left out of the cache (the user's own move then raises and shows the error)."""
        key = _freeze(params)
        if key in self.cache:
            return False
        try:
            self.result(params)
        except Exception:
            return False
        return True

    def _limits(self):
        return tuple((ax.get_xlim(), ax.get_ylim()) for ax in self.fig.axes)

    def _unanimate(self, forget_sprites=True):
        for a in self._animated:
            a.set_animated(False)
        self._animated, self._background = (), None
        if forget_sprites:
            self._sprites.clear()
            self._misses.clear()
            self._seen.clear()

    def _draw_artist(self, a):
        """fig.draw_artist(a), through the sprite cache for texts, legends and axes (see the class docstring)."""
        import numpy as np
        key = sprite_key(a)
        if key is None:
            self.fig.draw_artist(a)
            return
        key = (id(a), key)
        buf = np.asarray(self.fig.canvas.buffer_rgba())          # (h, w, 4) uint8, the Agg buffer itself
        if key not in self._sprites:
            misses = self._misses[id(a)] = self._misses.get(id(a), 0) + 1
            if misses > self.VOLATILE and key not in self._seen:     # a key seen before is kept from now on
                if len(self._seen) >= 4 * self.SPRITE_CACHE_SIZE:
                    self._seen.clear()
                self._seen.add(key)
                self.fig.draw_artist(a)
                self._sprite_counts[1] += 1
                return
            if len(self._sprites) >= self.SPRITE_CACHE_SIZE:
                self._sprites.clear()
            kept = buf.copy()
            buf[...] = 0                                          # transparent: the artist alone
            self.fig.draw_artist(a)
            pixels = buf.view(np.uint32)[..., 0]                  # (h, w): 0 where nothing was drawn
            rows = np.flatnonzero(pixels.any(axis=1))
            sprite = None
            if rows.size:
                y0, y1 = rows[0], rows[-1] + 1
                cols = np.flatnonzero(pixels[y0:y1].any(axis=0))
                x0, x1 = cols[0], cols[-1] + 1
                sprite = (y0, x0, buf[y0:y1, x0:x1].copy())
            buf[...] = kept
            self._sprites[key] = sprite
            self._sprite_counts[1] += 1
        else:
            self._misses[id(a)] = 0
            self._sprite_counts[0] += 1
        sprite = self._sprites[key]
        if sprite is not None:
            y0, x0, rgba = sprite
            h, w = rgba.shape[:2]
            under = buf[y0:y0 + h, x0:x0 + w, :3].astype(np.uint16)
            a16 = rgba[..., 3:].astype(np.uint16)
            # "over" onto the opaque picture, rounded as Agg rounds: src * a + dst * (1 - a)
            buf[y0:y0 + h, x0:x0 + w, :3] = (rgba[..., :3] * a16 + under * (255 - a16) + 127) // 255

    def _blit(self, artists):
        """Draw the artists over the kept background; True if the background had to be (re-)taken."""
        canvas = self.fig.canvas
        artists = in_draw_order(self.fig, artists)
        key = (tuple(map(id, artists)), self._limits())
        retake = self._background is None or self._background[0] != key
        if retake:
            self._unanimate(forget_sprites=False)    # a sprite's key holds its place in pixels
            for a in artists:
                a.set_animated(True)
            self._animated = artists
            canvas.draw()                                          # everything but the artists
            self._background = ((tuple(map(id, artists)), self._limits()), canvas.copy_from_bbox(self.fig.bbox))
        else:
            canvas.restore_region(self._background[1])
        self._sprite_counts = [0, 0]
        for a in artists:
            if a.get_visible():
                self._draw_artist(a)
        return retake

    def figure(self, params):
        """Compute (cached) and bring the live figure to these settings; returns the Figure."""
        res = self.result(params)
        mode = "full"
        with panel_style():
            changed = False
            if self.fig is None:
                self.fig = new_figure(self.panel)
                self.panel.draw(res, fig=self.fig)
                if hasattr(self.panel, "update"):       # take the background now: the first move blits
                    changed = self.panel.update(self.fig, res)
            else:
                changed = self.panel.update(self.fig, res) if hasattr(self.panel, "update") else False
                if changed is True:
                    mode = "in_place"
                elif changed:
                    mode = "blit"
                else:
                    self._unanimate()
                    self.panel.draw(res, fig=self.fig)
                    changed = self.panel.update(self.fig, res) if hasattr(self.panel, "update") else False
            if changed is not True and changed:
                retake = self._blit(tuple(changed))
                if mode == "blit" and retake:
                    mode = "retake"
            else:
                self._unanimate()
                self.fig.canvas.draw()
        self.last = {"in_place": mode != "full", "mode": mode,       # full | in_place | retake | blit
                     "sprites": tuple(self._sprite_counts) if mode in ("blit", "retake") else (0, 0)}
        return self.fig

    def __call__(self, **params):
        return encode_png(self.figure(params))


def in_draw_order(fig, artists):
    """The changed artists in the order a plain draw paints them (each axes' children by zorder, ties in child
    order; anything else, e.g. a figure text or legend, after the axes): a blit draws them in list order over
    the background, so it must stack them the same way."""
    rank = {}
    for ax in fig.axes:
        for child in sorted(ax.get_children(), key=lambda c: c.get_zorder()):
            rank.setdefault(id(child), len(rank))
    return sorted(artists, key=lambda a: rank.get(id(a), len(rank)))


def axis_ticks(locator, lo, hi):
    """The ticks inside [lo, hi] and their labels, as matplotlib's locator and its default ScalarFormatter give
    them on a linear axis over [lo, hi] (for an axis drawn through a transform onto fixed 0..1 limits)."""
    from matplotlib.ticker import ScalarFormatter
    ticks = locator.tick_values(lo, hi)
    fmt = ScalarFormatter()
    fmt.create_dummy_axis()
    fmt.axis.set_view_interval(lo, hi)
    labels = fmt.format_ticks(ticks)
    tol = 1e-9 * (hi - lo)
    keep = [(t, s) for t, s in zip(ticks, labels) if lo - tol <= t <= hi + tol]
    return [t for t, _ in keep], [s for _, s in keep]


def _colour(x):
    """A colour (name, RGB(A), or an array of them) as a hashable tuple of RGBA floats."""
    import numpy as np
    from matplotlib.colors import to_rgba_array
    if x is None or (isinstance(x, str) and x in ("none", "auto")):
        return x
    return tuple(np.round(to_rgba_array(x), 6).ravel())


def _text_key(t):
    patch = t.get_bbox_patch()
    box = None if patch is None else (_colour(patch.get_facecolor()), _colour(patch.get_edgecolor()),
                                      patch.get_linewidth(), patch.get_boxstyle().__class__.__name__)
    arrow = getattr(t, "arrow_patch", None)
    import numpy as np
    from matplotlib.text import Annotation
    if isinstance(t, Annotation):                   # the text and the point it annotates, both in pixels
        renderer = t.get_figure(root=True).canvas.get_renderer()
        where = np.round(t._get_xy(renderer, t.xyann, t.anncoords), 3)
        xy = t._get_position_xy(renderer)
    else:
        where = np.round(t.get_transform().transform(t.get_unitless_position()), 3)   # the anchor in pixels
        xy = None
    clip = t.get_clip_box()
    return ("text", t.get_text(), tuple(where), None if xy is None else tuple(np.round(xy, 3)),
            _colour(t.get_color()), t.get_alpha(), t.get_rotation(), t.get_horizontalalignment(),
            t.get_verticalalignment(), t.get_rotation_mode(), hash(t.get_fontproperties()), t.get_usetex(), box,
            arrow is not None and arrow.get_visible(), t.get_clip_on(),
            None if clip is None else tuple(np.round(clip.bounds, 3)), t.get_zorder())


def _handle_key(h):
    props = []
    for getter in ("get_color", "get_facecolor", "get_edgecolor", "get_linestyle", "get_linewidth",
                   "get_marker", "get_alpha", "get_hatch", "get_visible"):
        f = getattr(h, getter, None)
        v = f() if f is not None else None
        props.append(_colour(v) if getter.endswith("color") else v)
    return (type(h).__name__, *props)


def _axis_key(axis):
    """An x or y axis as it will be drawn: its ticks in pixels (major and minor, from its locators for the
    current limits), their labels (from its formatters), the tick settings, the axes' place in pixels and
    its label and offset texts."""
    import numpy as np
    ax = axis.axes
    x = axis.axis_name == "x"
    ticks = []
    for which in (axis.major, axis.minor):
        locs = np.asarray(which.locator(), dtype=float)
        pts = np.column_stack([locs, np.zeros_like(locs)] if x else [np.zeros_like(locs), locs])
        px = ax.transData.transform(pts)[:, 0 if x else 1] if locs.size else locs
        ticks.append((tuple(np.round(px, 3)), tuple(which.formatter.format_ticks(locs))))
    return ("axis", axis.axis_name, tuple(ticks), tuple(np.round(ax.bbox.bounds, 3)),
            tuple(np.round(axis.get_view_interval(), 12)), repr(sorted(axis._major_tick_kw.items())),
            repr(sorted(axis._minor_tick_kw.items())), axis.get_ticks_position(), axis.get_label_position(),
            _text_key(axis.label), _text_key(axis.offsetText), axis.get_visible(), axis.get_zorder())


def sprite_key(artist):
    """What decides how a text, a legend or an axis (ticks, tick labels, axis label) looks, as a hashable
    key; None for any other artist (and for a legend at loc="best", whose place depends on the data). Two
    draws with equal keys, under the same axes give the same pixels: PanelRenderer pastes the second from
    the first (a sprite). A text's place is taken in pixels, so a text in axes coordinates keeps its sprite
    when the axes limits change, and one in data coordinates does not. An axis's key holds its ticks in
    pixels and their labels: a panel that sets new ticks on every move (a drawn-on frame) pastes the
    axis whenever they come out as before."""
    from matplotlib.axis import Axis
    from matplotlib.legend import Legend
    from matplotlib.text import Text
    if isinstance(artist, Text):
        return _text_key(artist)
    if isinstance(artist, Axis):
        return _axis_key(artist)
    if isinstance(artist, Legend):
        if artist._loc in (0, "best"):
            return None
        frame = artist.get_frame()
        anchor = artist.get_bbox_to_anchor()
        return ("legend", artist._loc, None if anchor is None else tuple(anchor.bounds),
                tuple(_text_key(t) for t in artist.get_texts()), _text_key(artist.get_title()),
                tuple(_handle_key(h) for h in artist.legend_handles), artist.get_frame_on(),
                _colour(frame.get_facecolor()), _colour(frame.get_edgecolor()), frame.get_alpha(), artist.get_zorder())
    return None


def panel_modules():
    """All panel modules, by name (used by benchmarks/panels.py and the tests)."""
    mods = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            mods[info.name] = importlib.import_module(f"{__name__}.{info.name}")
    return mods


def control_values(widget):
    """The settings of one control a corner test visits: its ends and its current value.

    Sliders: min, value, max (a log slider: base**min, value, base**max); a selection slider or
    dropdown: every option (first, value and last when there are more than 4); a checkbox: both; a
    multi-select: its value, nothing, the first option alone, everything.
    """
    import ipywidgets as w
    if isinstance(widget, w.FloatLogSlider):
        return [widget.base ** widget.min, widget.value, widget.base ** widget.max]
    if isinstance(widget, w.SelectMultiple):
        opts = option_values(widget)
        return [tuple(widget.value), (), (opts[0],), tuple(opts)]
    if isinstance(widget, (w.SelectionSlider, w.Dropdown, w.ToggleButtons, w.RadioButtons, w.Select)):
        opts = option_values(widget)
        if len(opts) > 4:
            opts = [opts[0], widget.value, opts[-1]]
        return list(dict.fromkeys(opts))
    if isinstance(widget, (w.Checkbox, w.ToggleButton)):
        return [False, True]
    if hasattr(widget, "min") and hasattr(widget, "max"):
        return list(dict.fromkeys([widget.min, widget.value, widget.max]))
    raise TypeError(f"control_values: no corner rule for a {type(widget).__name__}")


def show(panel, **controls):
    """Display-ready VBox: the panel's controls above its picture, redrawn on every change.

    panel: a panel module. Its controls() give the controls; a keyword argument name=widget replaces
    the control of that name (names = compute's arguments). Arguments of compute() without a
    control keep their DEFAULTS value. The picture is an ipywidgets Image whose value, the PNG as a
    data: URL (png_data_url), is replaced on each change (no output area cleared and rebuilt). After
    a slider's picture is set, the slider's next step in the same direction is computed ahead
    (PanelRenderer.prefetch) when compute() took over PanelRenderer.PREFETCH_MS: a student stepping a
    slider then waits only for the drawing (nb05: 48 -> 16 ms median over the benchmark walk, measured
    2026-12-03 on the 2-core VM).
    """
    import ipywidgets as widgets

    declared = panel.controls() if hasattr(panel, "controls") else {}
    controls = {**declared, **controls}
    fixed = {k: v for k, v in panel.DEFAULTS.items() if k not in controls}
    render = PanelRenderer(panel)
    params = {name: c.value for name, c in controls.items()}
    image = widgets.Image(value=png_data_url(render(**fixed, **params)), format="url")   # see png_data_url
    image.add_class("linattn-panel-image")
    error = widgets.Output()                   # a traceback, if an update raised, shows here

    def on_change(change):
        name = change["owner"]._linattn_name
        params[name] = change["new"]
        try:
            image.value = png_data_url(render(**fixed, **params))
            if error.outputs:
                error.clear_output()
        except Exception:
            error.clear_output()
            with error:
                raise
            return
        # The picture is on its way; while the student looks at it, compute the slider's next step in the
        # direction it moved (an arrow key held or pressed again, a drag going on), if computing is slow
        ahead = next_step(change["owner"], change["old"], change["new"])
        if ahead is not None and render.last_compute_ms > render.PREFETCH_MS:   # the last compute that ran
            render.prefetch({**fixed, **params, name: ahead})

    for name, c in controls.items():
        c._linattn_name = name
        c.observe(on_change, names="value")
    row = widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
    hints = [c._linattn_hint for c in controls.values() if getattr(c, "_linattn_hint", None)]
    parts = [row]
    if hints:
        parts.append(widgets.HTML("<span class='linattn-panel-hint'>" + " · ".join(hints) + "</span>"))
    box = widgets.VBox(parts + [image, error])
    box.add_class("linattn-panel")
    box.add_class("linattn-panel-" + panel.__name__.rsplit(".", 1)[-1])
    return box


def option_values(widget):
    """The values a widget's options stand for (an option may be a (label, value) pair); [] if it has none."""
    return [o[1] if isinstance(o, tuple) else o for o in getattr(widget, "options", ())]


def next_step(widget, old, new):
    """The value one more move of a slider in the direction old -> new gives (same step), or None: not a
    slider, no move, or past its end. FloatLogSlider steps by the same ratio, SelectionSlider by index.
    A float that differs from the slider's own sum in its last bits (1.3 against 1.3000000000000003)
    still finds the cached result: _freeze keys floats by 12 significant digits."""
    import ipywidgets as w
    if isinstance(widget, w.SelectionSlider):
        values = option_values(widget)
        if old not in values or new not in values:
            return None
        i = 2 * values.index(new) - values.index(old)
        return values[i] if 0 <= i < len(values) and i != values.index(new) else None
    if not isinstance(widget, (w.IntSlider, w.FloatSlider, w.FloatLogSlider)) or old == new:
        return None
    if isinstance(widget, w.FloatLogSlider):
        ahead = new * (new / old)
        lo, hi = widget.base ** widget.min, widget.base ** widget.max
    else:
        ahead, lo, hi = 2 * new - old, widget.min, widget.max
    return ahead if lo <= ahead <= hi else None


def nice_limit(x, steps=(1, 2, 5)):
    """The smallest of steps x 10^k that is >= x (1 for x <= 0 or not finite): an axis limit that stays
    put while the data moves a little, so a slider move can blit instead of redrawing the axes. A panel
    that wants a finer grid passes more steps (each in [1, 10))."""
    import math
    if not (x > 0 and math.isfinite(x)):
        return 1.0
    k = math.floor(math.log10(x))
    for m in (*steps, 10):
        if m * 10.0 ** k >= x * (1 - 1e-12):
            return float(m * 10.0 ** k)
    return 10.0 ** (k + 1)


def decade_limits(lo, hi):
    """(10^floor(log10 lo), 10^ceil(log10 hi)): a log axis that stays put while the data moves inside a decade."""
    import math
    return 10.0 ** math.floor(math.log10(lo)), 10.0 ** math.ceil(math.log10(hi))


def hint(widget, text):
    """Attach a one-line hint shown under the panel's controls (units, how to use the control)."""
    widget._linattn_hint = text
    widget.tooltip = text
    return widget



def styled(draw):
    """Decorator for a panel's draw(): runs it under panel_style(), so every text is >= TEXT_PT."""
    import functools

    @functools.wraps(draw)
    def wrapper(result, fig=None):
        with panel_style():
            return draw(result, fig)
    return wrapper
