"""book/build.py: the course as a static HTML site that works with no network.

Two parts:
* the machinery, on a two-notebook book built in a temporary folder (one real panel, LaTeX, a
  Markdown link between notebooks): fast, always runs;
* the real site in _build/html (marked `notebooks`): built by `make book` (reusing executed copies
  in _build/executed when nothing changed), or by this test if it is missing; every notebook in
  book/toc.yml must have a page with its figures, in teaching order.
"""
import importlib.util
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"


def _load_builder():
    spec = importlib.util.spec_from_file_location("book_build", ROOT / "book" / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["book_build"] = module          # ProcessPoolExecutor pickles _execute by module name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def book():
    return _load_builder()


class _Resources(HTMLParser):
    """Collects every URL a page *loads* (script/img/link/iframe/source), not the links a reader clicks."""

    def __init__(self):
        super().__init__()
        self.loads, self.links = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "video", "audio", "embed") and attrs.get("src"):
            self.loads.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.loads.append(attrs["href"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


def _parse(html):
    p = _Resources()
    p.feed(html)
    return p


def _assert_offline(page_path):
    html = page_path.read_text()
    parsed = _parse(html)
    remote = [u for u in parsed.loads if re.match(r"(https?:)?//", u)]
    assert not remote, f"{page_path.name} loads from the network: {remote}"
    assert "@import url(http" not in html, f"{page_path.name} imports remote CSS"
    for url in parsed.loads:
        if not url.startswith("data:"):
            local = page_path.parent / url.split("?")[0]
            assert local.exists(), f"{page_path.name} loads {url}, which is not in the site"
    return html, parsed


def _count_images(nb):
    """image/png outputs of an executed notebook, including a panel's picture (its Image widget, or the
    outputs of an Output widget)."""
    count = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                if "image/png" in o.get("data", {}))
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    count += sum(1 for m in state.values() if m["model_name"] == "OutputModel"
                 for o in m["state"].get("outputs", []) if "image/png" in o.get("data", {}))
    count += sum(1 for m in state.values() if m["model_name"] == "ImageModel")     # panels.show's picture
    return count


# ------------------------------------------------------------------ the machinery, on a tiny book
PANEL_CELL = """\
import ipywidgets as widgets
from linattn_edu.panels import show, nb02_costs
show(nb02_costs, n=widgets.IntSlider(value=256, min=16, max=4096, description="n"))"""


@pytest.fixture(scope="module")
def tiny_site(book, tmp_path_factory):
    base = tmp_path_factory.mktemp("tinybook")
    nbs = base / "notebooks"
    nbs.mkdir()
    first = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# First page: $\\phi(Q)^\\top$\nThe cost is $O(n^2 d)$; see [the next one](02_second.ipynb)."),
        nbformat.v4.new_markdown_cell("Exercise.\n\n<details><summary>Solutions (click)</summary>\n\n1. **forty**"
                                      " two, $x^2$\n</details>\n\nNext: **02 — Second page**, after this."),
        nbformat.v4.new_code_cell("answer = 'worked solution'\nprint(answer)",
                                  metadata={"tags": ["solution"], "jupyter": {"source_hidden": True}}),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0]);"),
        nbformat.v4.new_code_cell(PANEL_CELL)])
    second = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Second page\n$$\\sum_i x_i$$"),
                                             nbformat.v4.new_code_cell("print(6 * 7)")])
    for name, nb in (("01_first.ipynb", first), ("02_second.ipynb", second)):
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, nbs / name)
    toc = base / "toc.yml"
    toc.write_text('title: "Tiny"\nlectures:\n  - title: "L1"\n    notebooks: ["01"]\n'
                   '  - title: "L2"\n    notebooks: ["02"]\n')
    index = base / "index.md"
    index.write_text("# Tiny book\n\n{{ toc }}\n")
    out = base / "html"
    manifest = book.build(out, jobs=2, toc_path=toc, notebook_dir=nbs, index_md=index, cache_dir=base / "cache")
    return out, manifest, base


def test_tiny_book_has_a_page_per_notebook_and_an_index_in_order(tiny_site):
    out, manifest, _ = tiny_site
    assert [p["page"] for p in manifest] == ["01_first.html", "02_second.html"]
    index = (out / "index.html").read_text()
    links = [h for h in _parse(index).links if h.endswith(".html")]
    assert links == ["01_first.html", "02_second.html"], links
    assert "First page" in index and "Second page" in index


def test_tiny_book_panel_becomes_its_static_figure(tiny_site):
    out, manifest, _ = tiny_site
    page = (out / "01_first.html").read_text()
    assert manifest[0]["panels"] == 1
    assert "application/vnd.jupyter.widget" not in page, "a widget view was left for a widget manager"
    assert "Interactive panel, shown here as drawn at its initial settings (n = 256, " in page
    assert page.count('src="data:image/png') == 2, "the plot and the panel's figure must both be embedded"


def test_tiny_book_folds_solutions_and_links_next(tiny_site):
    out, manifest, _ = tiny_site
    page = (out / "01_first.html").read_text()
    # the Markdown fold holds its list (it used to render empty, the list open below it)
    fold = re.search(r'<details class="course-fold"><summary>Solutions \(click\)</summary>(.*?)</details>', page, re.S)
    assert fold and "<strong>forty</strong>" in fold.group(1) and "$x^2$" in fold.group(1), page[:3000]
    # a solution-tagged cell sits, input and output, inside a closed "Solution" fold
    sol = re.search(r'<details class="course-solution"><summary>Solution</summary>(.*?)</details>', page, re.S)
    assert sol and "worked solution" in sol.group(1) and "<details open" not in page
    assert page.count("worked solution") == sol.group(1).count("worked solution")   # nowhere else
    assert manifest[0]["solution_cells"] == 1 and manifest[0]["folds"] == 1
    assert 'href="02_second.html"><strong>02' in page                   # "Next: **02 ...**" is a link
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "φ(Q)ᵀ" in title and "\\" not in title and "$" not in title, title


def test_tiny_book_is_offline_with_local_mathjax_and_fixed_links(tiny_site):
    out, _, _ = tiny_site
    for page in ("index.html", "01_first.html", "02_second.html", "teaching.html"):
        html, parsed = _assert_offline(out / page)
        assert "_static/mathjax/MathJax.js" in html
    first = _parse((out / "01_first.html").read_text())
    assert "02_second.html" in first.links, "a Markdown link to a notebook must point to its page"
    assert "02_second.ipynb" not in first.links
    assert (out / "_static" / "mathjax" / "jax" / "output" / "HTML-CSS" / "fonts" / "STIX-Web").exists()


def test_rebuild_reuses_executions(book, tiny_site, capsys):
    out, _, base = tiny_site
    book.build(out, toc_path=base / "toc.yml", notebook_dir=base / "notebooks", index_md=base / "index.md",
               cache_dir=base / "cache")
    log = capsys.readouterr().out
    assert log.count("executed copy reused") == 2, log


def test_the_course_toc_names_every_notebook_in_order(book):
    _, lectures = book.read_toc()
    listed = [p.name for _, paths in lectures for p in paths]
    on_disk = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert listed == on_disk, "book/toc.yml must list every notebook, in the order of their numbers"


def test_toc_must_name_every_notebook(book, tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    for name in ("01_a.ipynb", "02_b.ipynb"):
        nbformat.write(nbformat.v4.new_notebook(), nbs / name)
    toc = tmp_path / "toc.yml"
    toc.write_text('title: "T"\nlectures:\n  - title: "L"\n    notebooks: ["01"]\n')
    with pytest.raises(book.BookError, match="02_b.ipynb"):
        book.read_toc(toc, nbs)


def test_a_failing_cell_fails_the_build_and_names_the_notebook(book, tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Broken"),
                                         nbformat.v4.new_code_cell("assert 1 + 1 == 3, 'arithmetic is broken'")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, nbs / "01_broken.ipynb")
    toc = tmp_path / "toc.yml"
    toc.write_text('title: "T"\nlectures:\n  - title: "L"\n    notebooks: ["01"]\n')
    with pytest.raises(book.BookError, match=r"01_broken.ipynb(.|\n)*arithmetic is broken"):
        book.build(tmp_path / "html", toc_path=toc, notebook_dir=nbs, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "01_broken.ipynb").exists(), "a failed execution must not be cached"


def test_build_refuses_to_wipe_a_foreign_folder(book, tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(book.BookError, match="refusing"):
        book.build(tmp_path)
    assert (tmp_path / "precious.txt").exists()


def test_a_failing_panel_fails_the_build(book):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("")]
    nb.cells[0].outputs = [nbformat.v4.new_output("execute_result", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "box", "version_major": 2, "version_minor": 0},
        "text/plain": "VBox()"}, execution_count=1)]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_out"]}},
        "out": {"model_name": "OutputModel", "state": {"outputs": [
            {"output_type": "error", "ename": "ValueError", "evalue": "n must be >= 1", "traceback": []}]}}}}}
    with pytest.raises(book.BookError, match="n must be >= 1"):
        book.snapshot_widgets(nb, where="test")


# ------------------------------------------------------------------ the real course
@pytest.fixture(scope="module")
def site(book):
    """The site in _build/html; (re)built if it is missing or older than a notebook."""
    _, lectures = book.read_toc()
    notebooks = [p for _, paths in lectures for p in paths]
    manifest_path = SITE / "book.json"
    fresh = manifest_path.exists() and all(
        (SITE / (p.stem + ".html")).exists() and (SITE / (p.stem + ".html")).stat().st_mtime >= p.stat().st_mtime
        for p in notebooks)
    if not fresh:
        print("test_book: _build/html is missing or stale; building it (book/build.py)")
        book.build(SITE)
    return json.loads(manifest_path.read_text()), notebooks


@pytest.mark.notebooks
def test_every_notebook_has_a_page_in_teaching_order(site):
    manifest, notebooks = site
    assert notebooks, "no notebooks in notebooks/"
    assert [p["notebook"] for p in manifest["pages"]] == [p.name for p in notebooks]
    index = (SITE / "index.html").read_text()
    links = [h for h in _parse(index).links if re.fullmatch(r"\d\d_[\w\-]+\.html", h)]
    assert links == [p.stem + ".html" for p in notebooks], "index.html must list every page, in teaching order"
    assert "teaching.html" in _parse(index).links and (SITE / "teaching.html").exists()
    _assert_offline(SITE / "index.html")
    _assert_offline(SITE / "teaching.html")


@pytest.mark.notebooks
def test_every_page_has_its_figures_math_and_no_widget_views(book, site):
    manifest, notebooks = site
    for entry, nb_path in zip(manifest["pages"], notebooks):
        page = SITE / entry["page"]
        html, _ = _assert_offline(page)
        executed = nbformat.read(book.CACHE / nb_path.name, as_version=4)
        expected = _count_images(executed)
        assert expected >= 1, f"{nb_path.name} draws no figure at all"
        found = html.count('src="data:image/png')
        assert found >= expected, f"{entry['page']}: {found} images, the executed notebook has {expected}"
        assert "application/vnd.jupyter.widget-view" not in html, f"{entry['page']} has a raw widget view"
        if any("$" in c.source for c in executed.cells if c.cell_type == "markdown"):
            assert "_static/mathjax/MathJax.js" in html, f"{entry['page']} has LaTeX but no MathJax"
        assert "Traceback" not in html, f"{entry['page']} shows a traceback"
