"""Every panel at every corner of its controls: compute + draw + render must not raise (issue #17.1).

The corners are all combinations of each control's min / default / max (every option of a dropdown,
both states of a checkbox; ``panels.control_values``). The controls come from two places, so a range
widened in either is covered: the panel module's own ``controls()`` (what ``show(panel)`` uses), and
the ``show(...)`` calls in the notebooks, evaluated with the notebook's own widget definitions.
Also: the smallest text of every panel, at every corner, is at least BODY_TEXT_PX pixels in its PNG.
"""
import ast
import itertools
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from linattn_edu import panels  # noqa: E402

MODULES = panels.panel_modules()
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def corners(controls):
    names = list(controls)
    values = [panels.control_values(controls[n]) for n in names]
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def smallest_text_px(fig):
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) * fig.dpi / 72


def rendered_corners(controls):
    """The corners also rendered to pixels (canvas draw): defaults, all-min, all-max, and each control
    alone at each of its values. Every corner runs compute + draw (building every artist, where the
    indexing and scaling happens); rendering all of them would cost minutes on a 2-core machine."""
    names = list(controls)
    values = {n: panels.control_values(controls[n]) for n in names}
    default = {n: controls[n].value if not isinstance(controls[n].value, tuple) else tuple(controls[n].value)
               for n in names}
    chosen = [default, {n: values[n][0] for n in names}, {n: values[n][-1] for n in names}]
    chosen += [{**default, n: v} for n in names for v in values[n]]
    return [dict(c) for c in chosen]


def run_corners(mod, controls, where, vary=None):
    """compute + draw at every corner of `vary` (default: all controls; the others at their value)."""
    fixed = {k: v for k, v in mod.DEFAULTS.items() if k not in controls}
    vary = list(controls) if vary is None else vary
    still = {n: c.value for n, c in controls.items() if n not in vary}
    combos = [{**still, **c} for c in corners({n: controls[n] for n in vary})]
    render = panels.PanelRenderer(mod)
    fig = panels.new_figure(mod)
    for combo in combos:
        try:
            mod.draw(render.result({**fixed, **combo}), fig=fig)
        except Exception as exc:                      # name the corner that broke
            raise AssertionError(f"{where}: compute/draw raised {type(exc).__name__}: {exc} at {combo}") from exc
        px = smallest_text_px(fig)
        assert px >= panels.BODY_TEXT_PX - 1e-9, f"{where}: smallest text {px:.1f} px < {panels.BODY_TEXT_PX} at {combo}"
    assert fig.get_figwidth() * fig.dpi <= 1000, f"{where}: wider than 1000 px: scaled down in the page"
    shown = [{**still, **c} for c in rendered_corners({n: controls[n] for n in vary})]
    for combo in shown:
        try:
            panels.encode_png(render.figure({**fixed, **combo}))
        except Exception as exc:
            raise AssertionError(f"{where}: rendering raised {type(exc).__name__}: {exc} at {combo}") from exc
    return len(combos), len(shown)


DECLARING = sorted(n for n, m in MODULES.items() if hasattr(m, "controls"))


def test_every_panel_has_its_controls_tested():
    """A panel's corners come from its controls() or, failing that, from a notebook's show(...) call."""
    shown = {p for _, p, _ in SHOW_CALLS}
    untested = sorted(set(MODULES) - set(DECLARING) - shown)
    assert not untested, f"panels with neither controls() nor a show(...) call in a notebook: {untested}"


# The heavy panels (nb02, nb04, nb05, nb01: minutes on a loaded 2-core machine) alternate between this
# file and test_panel_corners_b.py, so that pytest-xdist's --dist loadfile runs the halves on two workers.
HALF_A, HALF_B = DECLARING[0::2], DECLARING[1::2]


@pytest.mark.parametrize("name", HALF_A)
def test_every_corner_of_the_panels_own_controls(name):
    check_own_controls(name)


def check_own_controls(name):
    mod = MODULES[name]
    controls = mod.controls()
    assert controls and set(controls) <= set(mod.DEFAULTS), (name, set(controls) - set(mod.DEFAULTS))
    for cname, widget in controls.items():            # the control starts at the notebook's default
        default = mod.DEFAULTS[cname]
        value = tuple(widget.value) if isinstance(widget.value, tuple) else widget.value
        assert value == (tuple(default) if isinstance(default, (tuple, list)) else default), (name, cname)
        assert widget.description, f"{name}.{cname} has no label"
    n = run_corners(mod, controls, f"{name}, its controls()")
    print(f"{name}: {n} corners")


def notebook_show_calls():
    """(notebook, panel module name, source of the show(...) call) for every show call in the notebooks."""
    found = []
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"])
            try:
                tree = ast.parse(src)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "show"
                        and node.args and isinstance(node.args[0], ast.Name)):
                    found.append((path.name, node.args[0].id, ast.get_source_segment(src, node)))
    return found


SHOW_CALLS = notebook_show_calls()


def test_every_notebook_shows_a_panel():
    assert {nb for nb, _, _ in SHOW_CALLS} == {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("notebook,panel,source", SHOW_CALLS, ids=[f"{nb[:2]}-{p}" for nb, p, _ in SHOW_CALLS])
def test_every_corner_of_the_notebooks_show_call(notebook, panel, source):
    """The notebook's show(...) call, evaluated with a stand-in show() that captures its controls."""
    captured = {}

    def fake_show(mod, **controls):
        captured["mod"], captured["controls"] = mod, controls

    from linattn_edu.panels import nb10_scaling
    namespace = {"show": fake_show, "widgets": ipywidgets, "np": np, "record": nb10_scaling.load(), **MODULES}
    eval(compile(source, f"{notebook}: show call", "eval"), namespace)
    mod = captured["mod"]
    controls = {**(mod.controls() if hasattr(mod, "controls") else {}), **captured["controls"]}
    # the notebook's own controls vary where their corners differ from the module's (tested above);
    # the other controls keep their value
    own = mod.controls() if hasattr(mod, "controls") else {}
    vary = [n for n, c in captured["controls"].items()
            if n not in own or panels.control_values(c) != panels.control_values(own[n])]
    n = run_corners(mod, controls, f"{notebook}'s show({panel}, ...)", vary=vary)
    print(f"{notebook}: {n} corners")


def test_show_uses_the_panels_controls_and_updates_the_image():
    mod = MODULES["nb06_linformer"]
    box = panels.show(mod)
    names = [c.description for c in box.children[0].children]
    assert names == [c.description for c in mod.controls().values()]
    image = next(c for c in box.children if isinstance(c, ipywidgets.Image))
    before = image.value
    n_slider, k_slider = box.children[0].children[:2]
    n_slider.value = n_slider.min                     # n = 32: k is kept <= n by the control itself
    assert k_slider.max == n_slider.min and k_slider.value <= n_slider.value
    assert image.value != before and image.format == "url"
    assert panels.data_url_png(image.value)[:8] == b"\x89PNG\r\n\x1a\n"      # the picture, as a data: URL
    error = box.children[-1]
    assert not error.outputs, error.outputs


def test_pooling_matrix_rejects_k_above_n():
    with pytest.raises(ValueError, match="k <= n"):
        MODULES["nb06_linformer"].pooling_matrix(40, 32)
    res = MODULES["nb06_linformer"].compute(n=32, k=128)          # the panel clamps instead of dividing by 0
    assert res["k"] == 32 and res["k_requested"] == 128


def test_png_data_url_round_trips_and_rejects_other_urls():
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    url = panels.png_data_url(png)
    assert url.startswith(b"data:image/png;base64,") and panels.data_url_png(url) == png
    with pytest.raises(ValueError, match="url: expected a data:image/png"):
        panels.data_url_png(b"https://example.org/x.png")
