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
import pkgutil


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
    import matplotlib.pyplot as plt
    from IPython.display import display

    fixed = {k: v for k, v in panel.DEFAULTS.items() if k not in controls}

    def update(**params):
        fig = panel.draw(panel.compute(**fixed, **params))
        display(fig)         # inside interactive_output: renders the PNG into the output widget
        plt.close(fig)       # ... and only there (no second copy when the cell finishes)

    out = widgets.interactive_output(update, controls)
    box = widgets.VBox([widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")), out])
    box.add_class("linattn-panel")
    box.add_class("linattn-panel-" + panel.__name__.rsplit(".", 1)[-1])
    return box
