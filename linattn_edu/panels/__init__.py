"""Interactive panels for the notebooks: each is a pure ``compute`` plus a thin ``draw``.

Convention (tests, the panel benchmark and the figures command rely on it). A panel is a module in
this package that defines

    DEFAULTS: dict            keyword arguments of compute() at the notebook's default slider values
    compute(**params) -> dict the numbers the picture shows (arrays, floats); no matplotlib, no widgets
    draw(result, fig=None) -> matplotlib.figure.Figure

``show(panel_module, **controls)`` wires ipywidgets controls to compute + draw. It is the only UI code;
the library below never imports matplotlib or ipywidgets. The box it returns carries the CSS class
``linattn-panel`` (and ``linattn-panel-<module name>``) so the browser tests can find it.
"""
import importlib
import io
import pkgutil

PANEL_DPI = 80      # pixels per inch of the slider images: 10-inch panels are 800 px wide


def render_png(fig, dpi=PANEL_DPI):
    """PNG bytes of a figure, drawn once (no tight bounding box, which would draw it twice)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


class PanelRenderer:
    """One slider update: compute -> draw -> PNG bytes. Used by show() and timed by benchmarks/panels.py.

    The first figure is laid out with tight_layout and its margins are kept; later figures get the
    same margins with subplots_adjust. Laying out every figure again would draw it twice per update,
    the largest single cost of an update on a 2-core CPU (benchmarks/panels.py measures it).
    """

    MARGINS = ("left", "right", "bottom", "top", "wspace", "hspace")

    def __init__(self, panel, dpi=PANEL_DPI):
        self.panel, self.dpi, self.margins = panel, dpi, None

    def __call__(self, **params):
        import matplotlib.pyplot as plt

        fig = self.panel.draw(self.panel.compute(**params))
        if self.margins is None:
            fig.tight_layout()
            self.margins = {name: getattr(fig.subplotpars, name) for name in self.MARGINS}
        else:
            fig.subplots_adjust(**self.margins)
        png = render_png(fig, self.dpi)
        plt.close(fig)       # the PNG is the only copy (no second one when the cell finishes)
        return png


def panel_modules():
    """All panel modules, by name (used by benchmarks/panels.py and the tests)."""
    mods = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            mods[info.name] = importlib.import_module(f"{__name__}.{info.name}")
    return mods


def show(panel, **controls):
    """Display-ready VBox: the controls above the panel's figure, redrawn on every change.

    panel: a panel module (compute, draw); controls: name -> ipywidget, names = compute's arguments.
    Arguments of compute() not given a control keep their DEFAULTS value.
    """
    import ipywidgets as widgets
    from IPython.display import Image, display

    fixed = {k: v for k, v in panel.DEFAULTS.items() if k not in controls}
    render = PanelRenderer(panel)

    def update(**params):
        png = render(**fixed, **params)
        display(Image(data=png, format="png"))   # inside interactive_output: into the output widget

    out = widgets.interactive_output(update, controls)
    box = widgets.VBox([widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")), out])
    box.add_class("linattn-panel")
    box.add_class("linattn-panel-" + panel.__name__.rsplit(".", 1)[-1])
    return box
