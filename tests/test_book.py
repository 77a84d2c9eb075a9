"""book/build.py: the course as a static site (Sphinx + myst-nb + sphinx-book-theme) that works with no network.

Two parts:
* the machinery, on a two-notebook book built in a temporary folder (one real panel, LaTeX, folds, a
  solution, a Markdown link between notebooks), and opened in headless Chromium: no request fails,
  math is rendered, images load, search finds a page;
* the real site in _build/html (marked `notebooks`): built by `make book` (reusing executed copies in
  _build/executed when nothing changed), or by this test if it is missing or stale. Building it
  executes every notebook with LINATTN_SEED=1 and fails on any cell error, so it is also CI's run of
  the notebooks under a second seed. Every notebook in book/toc.yml must have a page with its figures,
  in teaching order.
"""
import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import sys
import threading
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
CHROMIUM = os.environ.get("LINATTN_CHROMIUM", "/usr/bin/chromium")


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
    """Collects every URL a page *loads* (script/img/link/iframe/source), and the links a reader clicks."""

    def __init__(self):
        super().__init__()
        self.loads, self.links, self.images = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "video", "audio", "embed") and attrs.get("src"):
            self.loads.append(attrs["src"])
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        if tag == "link" and attrs.get("href") and attrs.get("rel") not in ("prev", "next", "index", "search"):
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
            local = page_path.parent / url.split("?")[0].split("#")[0]
            assert local.exists(), f"{page_path.name} loads {url}, which is not in the site"
    return html, parsed


def _output_images(html):
    """<img> in cell outputs (myst-nb writes a notebook's figures to _images/)."""
    return [src for src in _parse(html).images if "_images/" in src]


def _page_links(html, prefix="notebooks/"):
    """Links to notebook pages, in order of first appearance (sidebar and body list the same order)."""
    seen = []
    for href in _parse(html).links:
        m = re.fullmatch(rf"(?:\./)?({prefix}\d\d_[\w\-]+\.html)", href)
        if m and m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


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


# ------------------------------------------------------------------ a real browser on the built site
@pytest.fixture(scope="module")
def browser():
    if os.environ.get("LINATTN_SKIP_BROWSER") == "1":
        pytest.skip("LINATTN_SKIP_BROWSER=1 is set: the site is not opened in Chromium")
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get update && apt-get install -y chromium"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _serve(directory):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def open_pages(browser, site, pages):
    """Open each page of site (served on 127.0.0.1) in Chromium; {page: facts}, and every request that
    failed, answered >= 400, or left this machine, with console errors and uncaught exceptions."""
    server = _serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    context = browser.new_context()
    page = context.new_page()
    problems, facts = [], {}

    def on_request(request):
        if not request.url.startswith((base, "data:", "blob:")):
            problems.append(("left the site", request.url))

    page.on("request", on_request)
    def on_failed(request):
        # Chromium cancels fetches still in flight (the favicon, MathJax's fonts) with net::ERR_ABORTED when
        # the next page.goto starts. A cancelled fetch is no failure, but what it asked for must exist in the
        # built site: a missing file still fails here (and as a >= 400 response if it got that far).
        if request.failure == "net::ERR_ABORTED" and request.url.startswith(base):
            local = Path(site) / urllib.parse.unquote(urllib.parse.urlsplit(request.url).path).lstrip("/")
            if local.is_file():
                return
        problems.append(("failed", request.url, request.failure))

    page.on("requestfailed", on_failed)
    page.on("response", lambda r: r.status >= 400 and problems.append((r.status, r.url)))
    page.on("console", lambda m: m.type == "error" and problems.append(("console error", m.text)))
    page.on("pageerror", lambda e: problems.append(("page error", str(e))))
    try:
        for name in pages:
            page.goto(base + name, wait_until="networkidle")
            if name.startswith("search.html"):
                page.wait_for_selector("#search-results ul.search li", timeout=15000)
            else:
                # MathJax loads async: poll (up to 15 s) until its startup object exists, then await the typeset
                page.evaluate("""async () => {
                  for (let i = 0; i < 150 && document.querySelector('script[src*="mathjax" i]')
                                        && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
                    await new Promise(r => setTimeout(r, 100));
                  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
                }""")
            facts[name] = page.evaluate("""() => ({
                math: document.querySelectorAll('mjx-container').length,
                numbers: Array.from(document.querySelectorAll('mjx-assistive-mml mlabeledtr'))   // \\tag{..}: CHTML draws it
                                .map(e => e.firstElementChild.textContent.trim()),               // with CSS, MathML names it
                unrendered: Array.from(document.querySelectorAll('article span.math, article div.math'))
                                 .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60)),
                images: Array.from(document.querySelectorAll('article img')).map(i => [i.src, i.complete && i.naturalWidth > 0]),
                captions: Array.from(document.querySelectorAll('article figure[id^="fig-"]'))       // a numbered figure:
                                .filter(f => f.querySelector('img') && f.querySelector('figcaption'))  // picture + caption
                                .map(f => [f.id, f.querySelector('figcaption').textContent.trim().slice(0, 14)]),
                results: Array.from(document.querySelectorAll('#search-results ul.search li a')).map(a => a.getAttribute('href')),
                title: document.title})""")
    finally:
        context.close()
        server.shutdown()
    return facts, problems


def _check_in_browser(facts, problems):
    assert not problems, f"requests that failed or left the site, or page errors: {problems}"
    for name, f in facts.items():
        assert not f["unrendered"], f"{name}: math left as LaTeX source: {f['unrendered'][:3]}"
        broken = [src for src, ok in f["images"] if not ok]
        assert not broken, f"{name}: images that did not load: {broken}"


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
        nbformat.v4.new_markdown_cell("# First page: $\\phi(Q)^\\top$\nThe cost is $O(n^2 d)$ in $\\mathbb{R}^n$, "
                                      "$\\mathcal{O}(n)$; see [the next one](02_second.ipynb)."),
        nbformat.v4.new_markdown_cell("Exercise.\n\n<details><summary>Solutions (click)</summary>\n\n1. **forty**"
                                      " two, $x^2$\n</details>\n\nNext: **02 — Second page**, after this."),
        nbformat.v4.new_code_cell("answer = 'worked solution'\nprint(answer)",
                                  metadata={"tags": ["solution"], "jupyter": {"source_hidden": True}}),
        nbformat.v4.new_markdown_cell("In words: the *worked answer*, $y = 2$.", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("import os\nimport matplotlib.pyplot as plt\n"
                                  "print('the seed is', os.environ['LINATTN_SEED'])\nplt.plot([0, 1], [1, 0]);"),
        nbformat.v4.new_markdown_cell("**Figure 1.1.** A falling line, $y = 1 - x$; see (2.1)."),
        nbformat.v4.new_code_cell(PANEL_CELL),
        nbformat.v4.new_markdown_cell("**Figure 1.2.** The cost panel, unlike Figure 1.1, moves."),
        nbformat.v4.new_markdown_cell("By (2.1) on the next page; $f(2.1)$ is math and `g(2.1)` code, (9.9) no equation.")])
    second = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Second page\n$$\\sum_i x_i \\tag{2.1}$$"),
                                             nbformat.v4.new_code_cell("print(6 * 7)"),
                                             nbformat.v4.new_markdown_cell("As Figure 1.2 showed; `Figure 1.9` is code.")])
    for name, nb in (("01_first.ipynb", first), ("02_second.ipynb", second)):
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, nbs / name)
    toc = base / "toc.yml"
    toc.write_text('title: "Tiny"\nlectures:\n  - title: "L1"\n    notebooks: ["01"]\n'
                   '  - title: "L2"\n    notebooks: ["02"]\n')
    index = base / "index.md"
    index.write_text("# Tiny book\n\nThe gallery:\n\n{{ gallery }}\n\n{{ toc }}\n")
    figures = base / "figures"
    figures.mkdir()
    shutil.copy(ROOT / "figures" / "kernel_weights.png", figures / "dot.png")
    readme = base / "README.md"
    readme.write_text("# Tiny\n\n## Quick start\n\nx\n\n## Gallery\n\n[![a dot](figures/dot.png)](figures/dot.png)\n\n"
                      "[notebook 01](notebooks/01_first.ipynb): look at the dot.\n\n## The library\n")
    out = base / "html"
    manifest = book.build(out, jobs=2, toc_path=toc, notebook_dir=nbs, index_md=index, cache_dir=base / "cache",
                          readme=readme, figures_dir=figures)
    return out, manifest, base


def test_tiny_book_has_a_page_per_notebook_and_an_index_in_order(tiny_site):
    out, manifest, _ = tiny_site
    assert [p["page"] for p in manifest] == ["notebooks/01_first.html", "notebooks/02_second.html"]
    index = (out / "index.html").read_text()
    assert _page_links(index) == ["notebooks/01_first.html", "notebooks/02_second.html"]
    assert "First page" in index and "Second page" in index
    assert 'src="_images/dot.png"' in index or "figures/dot.png" in index, "the README gallery is the landing page"
    for page in ("teaching.html", "api.html", "search.html", "searchindex.js", "genindex.html"):
        assert (out / page).exists(), page


def test_tiny_book_executes_with_the_second_seed(tiny_site):
    out, _, _ = tiny_site
    assert "the seed is 1" in (out / "notebooks" / "01_first.html").read_text()


def test_tiny_book_panel_becomes_its_static_figure(tiny_site):
    out, manifest, _ = tiny_site
    page = (out / "notebooks" / "01_first.html").read_text()
    assert manifest[0]["panels"] == 1
    assert "application/vnd.jupyter.widget" not in page, "a widget view was left for a widget manager"
    assert "Interactive panel, shown here as drawn at its initial settings (n = 256, " in page
    images = _output_images(page)
    assert len(images) == 2, f"the plot and the panel's figure must both be on the page: {images}"
    for src in images:
        assert (out / "notebooks" / src).resolve().stat().st_size > 1000, src


def test_tiny_book_folds_solutions_and_links_next(tiny_site):
    out, manifest, _ = tiny_site
    page = (out / "notebooks" / "01_first.html").read_text()
    # the Markdown fold holds its list, parsed as Markdown with its math (it used to render empty, open below)
    fold = re.search(r'<details class="course-fold">\s*<summary>Solutions \(click\)</summary>(.*?)</details>', page, re.S)
    assert fold and "<strong>forty</strong>" in fold.group(1) and r"\(x^2\)" in fold.group(1), page[:3000]
    # a solution-tagged code cell sits, input and output, inside a closed fold labelled as a solution
    sol = re.search(r'<details class="[^"]*hide above-input">\s*<summary[^>]*>\s*<p[^>]*>Solution \(click to show\)'
                    r'(.*?)</details>', page, re.S)
    assert sol and "worked solution" in sol.group(1) and "<details open" not in page
    assert page.count("worked solution") == sol.group(1).count("worked solution")   # nowhere else
    # a solution-tagged Markdown cell too
    md = re.search(r'<details class="course-solution">\s*<summary>Solution</summary>(.*?)</details>', page, re.S)
    assert md and "<em>worked answer</em>" in md.group(1), page
    assert page.count("worked answer") == 1
    assert manifest[0]["solution_cells"] == 2 and manifest[0]["folds"] == 1
    assert re.search(r'href="02_second.html"><span[^>]*><strong>02', page), "Next: **02 ...** must be a link"
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "φ(Q)ᵀ" in title and "\\" not in title and "$" not in title, title


def test_tiny_book_links_equation_references_across_pages(tiny_site):
    """"(N.k)" in the prose links to the display equation tagged \\tag{N.k}, on its own page; the same
    characters inside math or code, or with no such equation, stay as they are."""
    out, manifest, _ = tiny_site
    first = (out / "notebooks" / "01_first.html").read_text()
    second = (out / "notebooks" / "02_second.html").read_text()
    assert 'id="eq-2-1"' in second, "the tagged equation has no anchor"
    links = re.findall(r'<a class="reference internal" href="([^"]*#eq-[0-9-]+)"', first)
    assert links == ["02_second.html#eq-2-1"] * 2, links        # the prose's and Figure 1.1's caption's
    assert "f(2.1)" in first and "g(2.1)" in first and "(9.9)" in first
    assert [p["equation_references"] for p in manifest] == [2, 0]
    assert [p["equations"] for p in manifest] == [[], ["2.1"]]


def test_tiny_book_numbers_captions_and_links_figures(tiny_site):
    """A Markdown cell **Figure N.k.** after a figure's cell becomes that figure's caption on the site (a
    <figure> with anchor fig-N-k); "Figure N.k" in the prose links to it, across pages; a panel's note
    joins its caption."""
    out, manifest, _ = tiny_site
    first = (out / "notebooks" / "01_first.html").read_text()
    second = (out / "notebooks" / "02_second.html").read_text()
    figs = dict(re.findall(r'<figure[^>]*id="(fig-[0-9-]+)"[^>]*>(.*?)</figure>', first, re.S))
    assert sorted(figs) == ["fig-1-1", "fig-1-2"], first[:4000]
    for fid, body in figs.items():
        assert len(_output_images(body)) == 1, f"{fid} must hold its picture: {body[:500]}"
        assert "<figcaption" in body, body
    assert "<strong>Figure 1.1.</strong> A falling line" in figs["fig-1-1"] and r"\(y = 1 - x\)" in figs["fig-1-1"]
    assert re.search(r'href="02_second.html#eq-2-1"', figs["fig-1-1"]), "an equation reference in a caption links"
    assert "Interactive panel, shown here as drawn at its initial settings (n = 256, " in figs["fig-1-2"]
    assert re.search(r'href="#fig-1-1"', figs["fig-1-2"]), "a figure reference in a caption links"
    assert first.count("A falling line") == 1, "the caption cell is gone from the page body"
    assert re.search(r'<a class="reference internal" href="01_first.html#fig-1-2"', second), second[-3000:]
    assert "1.9</span>" in second and "fig-1-9" not in second          # code, not a reference
    assert [p["figures"] for p in manifest] == [["1.1", "1.2"], []]
    assert [p["figure_references"] for p in manifest] == [1, 1]


def _figure_nb(*cells):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    return nb


def _picture_cell():
    return nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})])


def test_figure_captions_must_be_in_order_after_their_cell(book):
    ok = _figure_nb(_picture_cell(), nbformat.v4.new_markdown_cell("**Figure 3.1.** One."),
                    _picture_cell(), nbformat.v4.new_markdown_cell("**Figure 3.2.** Two."))
    assert book.figure_captions(ok, 3) == [("3.1", 0, 1), ("3.2", 2, 3)]
    with pytest.raises(book.BookError, match="should be Figure 4.1"):
        book.figure_captions(ok, 4)
    skipped = _figure_nb(_picture_cell(), nbformat.v4.new_markdown_cell("**Figure 3.2.** Two."))
    with pytest.raises(book.BookError, match="should be Figure 3.1"):
        book.figure_captions(skipped, 3)
    orphan = _figure_nb(nbformat.v4.new_markdown_cell("Text."), nbformat.v4.new_markdown_cell("**Figure 3.1.** One."))
    with pytest.raises(book.BookError, match="must follow the code cell"):
        book.figure_captions(orphan, 3)
    sloppy = _figure_nb(_picture_cell(), nbformat.v4.new_markdown_cell("Figure 3.1: one."))
    with pytest.raises(book.BookError, match="must start with"):
        book.figure_captions(sloppy, 3)


def test_a_figure_without_caption_or_a_reference_to_no_figure_fails(book):
    bare = _figure_nb(_picture_cell())
    with pytest.raises(book.BookError, match="without a caption"):
        book.number_figures(bare, set(), 3)
    dangling = _figure_nb(_picture_cell(), nbformat.v4.new_markdown_cell("**Figure 3.1.** One."),
                          nbformat.v4.new_markdown_cell("Compare Figure 3.4."))
    with pytest.raises(book.BookError, match="Figure 3.4"):
        book.number_figures(dangling, {"3.1"}, 3)
    two = _figure_nb(nbformat.v4.new_code_cell("plot(); plot()", outputs=_picture_cell().outputs * 2),
                     nbformat.v4.new_markdown_cell("**Figure 3.1.** Two pictures."))
    with pytest.raises(book.BookError, match="shows 2 pictures"):
        book.number_figures(two, {"3.1"}, 3)
    tags, linked = book.number_figures(dangling := _figure_nb(
        _picture_cell(), nbformat.v4.new_markdown_cell("**Figure 3.1.** One."),
        nbformat.v4.new_markdown_cell("Figure 3.1, and `Figure 3.9` in code.")), {"3.1"}, 3)
    assert (tags, linked) == (["3.1"], 1) and len(dangling.cells) == 2
    assert dangling.cells[0].metadata["mystnb"]["figure"] == {"name": "fig-3-1", "caption": "**Figure 3.1.** One."}


def test_tiny_book_is_offline_with_local_mathjax_and_fixed_links(tiny_site):
    out, _, _ = tiny_site
    for page in ("index.html", "notebooks/01_first.html", "notebooks/02_second.html", "teaching.html", "api.html"):
        html, parsed = _assert_offline(out / page)
    for page in ("index.html", "notebooks/01_first.html", "notebooks/02_second.html"):
        assert re.search(r'src="(\.\./)?_static/mathjax/tex-mml-chtml\.js', (out / page).read_text()), page
    first = _parse((out / "notebooks" / "01_first.html").read_text())
    assert "02_second.html" in first.links, "a Markdown link to a notebook must point to its page"
    assert not any(link.endswith("02_second.ipynb") for link in first.links)
    fonts = out / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert (fonts / "MathJax_AMS-Regular.woff").exists() and (fonts / "MathJax_Calligraphic-Regular.woff").exists()


def test_tiny_book_pages_link_previous_and_next(tiny_site):
    out, _, _ = tiny_site
    first = (out / "notebooks" / "01_first.html").read_text()
    second = (out / "notebooks" / "02_second.html").read_text()
    assert re.search(r'<a class="right-next"\s+href="02_second.html"', first), "page 01 must link to the next page"
    assert re.search(r'<a class="left-prev"\s+href="01_first.html"', second), "page 02 must link to the previous page"


def test_tiny_book_offers_each_notebook_for_download(tiny_site):
    out, _, base = tiny_site
    page = _parse((out / "notebooks" / "01_first.html").read_text())
    assert "../_sources/notebooks/01_first.ipynb" in page.links
    downloaded = nbformat.read(out / "_sources" / "notebooks" / "01_first.ipynb", as_version=4)
    assert downloaded == nbformat.read(base / "notebooks" / "01_first.ipynb", as_version=4), \
        "the download must be the notebook as stored (clean, panels live), not the executed copy"


def test_tiny_book_in_a_browser(tiny_site, browser):
    """No request fails (MathJax fonts included) or leaves the site, math is typeset, images load, and
    the search page finds the second page."""
    out, _, _ = tiny_site
    facts, problems = open_pages(browser, out, ["index.html", "notebooks/01_first.html",
                                                "notebooks/02_second.html", "api.html", "search.html?q=second"])
    _check_in_browser(facts, problems)
    assert facts["notebooks/01_first.html"]["math"] >= 6            # \mathbb and \mathcal need AMS/Calligraphic fonts
    assert len(facts["notebooks/01_first.html"]["images"]) == 2
    assert facts["index.html"]["images"] and all(ok for _, ok in facts["index.html"]["images"])
    assert any("02_second" in href for href in facts["search.html?q=second"]["results"]), facts
    assert "φ(Q)ᵀ" in facts["notebooks/01_first.html"]["title"]


def test_a_missing_font_fails_the_browser_check(tiny_site, browser, tmp_path):
    """The check that forgives fetches Chromium cancels on navigation must still catch a file the site lacks."""
    out, _, _ = tiny_site
    broken = tmp_path / "site"
    shutil.copytree(out, broken)
    fonts = sorted(broken.glob("_static/mathjax/output/chtml/fonts/woff-v2/MathJax_Math-Italic.woff"))
    assert fonts, "the tiny site should ship MathJax's italic font"
    fonts[0].unlink()
    _, problems = open_pages(browser, broken, ["notebooks/01_first.html", "index.html"])
    assert any("MathJax_Math-Italic.woff" in str(p) for p in problems), problems


def test_tiny_book_has_the_api_reference(tiny_site):
    out, _, _ = tiny_site
    api = (out / "api.html").read_text()
    import linattn_edu.numpy as lnp
    import linattn_edu.torch as lt
    for mirror in (lnp, lt):
        for name in mirror.__all__:
            assert f'id="{mirror.__name__}.{name}"' in api, f"{mirror.__name__}.{name} missing from the API reference"


def test_rebuild_reuses_executions(book, tiny_site, capsys):
    out, _, base = tiny_site
    book.build(out, toc_path=base / "toc.yml", notebook_dir=base / "notebooks", index_md=base / "index.md",
               cache_dir=base / "cache", readme=base / "README.md", figures_dir=base / "figures")
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
                                         nbformat.v4.new_code_cell("import os\nassert os.environ['LINATTN_SEED'] != '1',"
                                                                   " 'fails under the second seed'")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, nbs / "01_broken.ipynb")
    toc = tmp_path / "toc.yml"
    toc.write_text('title: "T"\nlectures:\n  - title: "L"\n    notebooks: ["01"]\n')
    with pytest.raises(book.BookError, match=r"01_broken.ipynb(.|\n)*LINATTN_SEED=1(.|\n)*fails under the second seed"):
        book.build(tmp_path / "html", toc_path=toc, notebook_dir=nbs, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "01_broken.ipynb").exists(), "a failed execution must not be cached"


def test_a_sphinx_warning_fails_the_build(book, tmp_path):
    """-W: a broken cross-reference in a page fails the build rather than shipping a dead link."""
    src = tmp_path / "src"
    (src / "_static").mkdir(parents=True)
    (src / "index.md").write_text("# T\n\nSee {doc}`a-page-that-does-not-exist`.\n")
    (src / "titles.json").write_text("{}")
    with pytest.raises(book.BookError, match="a-page-that-does-not-exist"):
        book.run_sphinx(src, tmp_path / "html")


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
        (SITE / "notebooks" / (p.stem + ".html")).exists()
        and (SITE / "notebooks" / (p.stem + ".html")).stat().st_mtime >= p.stat().st_mtime for p in notebooks)
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
    assert _page_links(index) == [f"notebooks/{p.stem}.html" for p in notebooks], \
        "index.html must list every page, in teaching order"
    links = _parse(index).links
    assert "teaching.html" in links and "api.html" in links
    _assert_offline(SITE / "index.html")
    _assert_offline(SITE / "teaching.html")
    gallery = [src for src in _parse(index).images if "_images/" in src]
    assert len(gallery) >= 6, f"the landing page shows the README gallery: {gallery}"


@pytest.mark.notebooks
def test_every_page_has_its_figures_math_and_no_widget_views(book, site):
    manifest, notebooks = site
    for entry, nb_path in zip(manifest["pages"], notebooks):
        page = SITE / entry["page"]
        html, _ = _assert_offline(page)
        executed = nbformat.read(book.CACHE / nb_path.name, as_version=4)
        expected = _count_images(executed)
        assert expected >= 1, f"{nb_path.name} draws no figure at all"
        found = len(_output_images(html))
        assert found >= expected, f"{entry['page']}: {found} images, the executed notebook has {expected}"
        assert "application/vnd.jupyter.widget-view" not in html, f"{entry['page']} has a raw widget view"
        if any("$" in c.source for c in executed.cells if c.cell_type == "markdown"):
            assert "_static/mathjax/tex-mml-chtml.js" in html, f"{entry['page']} has LaTeX but no MathJax"
        assert "Traceback" not in html, f"{entry['page']} shows a traceback"
        assert "\\" not in re.search(r"<title>(.*?)</title>", html, re.S).group(1), f"{entry['page']}: LaTeX in <title>"
        for tag in entry["equations"]:
            assert f'id="eq-{tag.replace(".", "-")}"' in html, f"{entry['page']}: equation ({tag}) has no anchor"
        for target in re.findall(r'<a class="reference internal" href="([^"]*)#(eq-[0-9-]+)"', html):
            page = (SITE / entry["page"]).parent / target[0] if target[0] else SITE / entry["page"]
            assert f'id="{target[1]}"' in page.read_text(), f"{entry['page']}: a link to a missing equation {target}"
        for tag in entry["figures"]:
            assert re.search(rf'<figure[^>]*id="fig-{tag.replace(".", "-")}"', html), f"{entry['page']}: Figure {tag} has no anchor"
        for target in re.findall(r'<a class="reference internal" href="([^"]*)#(fig-[0-9-]+)"', html):
            page = (SITE / entry["page"]).parent / target[0] if target[0] else SITE / entry["page"]
            assert f'id="{target[1]}"' in page.read_text(), f"{entry['page']}: a link to a missing figure {target}"
        assert len(entry["figures"]) == expected, \
            f"{entry['page']}: {len(entry['figures'])} numbered figures, the executed notebook draws {expected}"
    linked = sum(p["equation_references"] for p in manifest["pages"])
    assert linked >= 3, f"only {linked} equation references are links on the site"
    linked = sum(p["figure_references"] for p in manifest["pages"])
    assert linked >= len(manifest["pages"]), f"only {linked} figure references are links on the site"


@pytest.mark.notebooks
def test_the_site_in_a_browser(site, browser):
    """A few pages of the real site in Chromium: no failed request, math typeset, figures loaded; the
    search page finds the reassociation notebook."""
    manifest, _ = site
    pages = ["index.html"] + [p["page"] for p in manifest["pages"][:3]] + ["api.html", "search.html?q=reassociation"]
    facts, problems = open_pages(browser, SITE, pages)
    _check_in_browser(facts, problems)
    for entry in manifest["pages"][:3]:
        assert facts[entry["page"]]["math"] > 0, f"{entry['page']}: no typeset math"
        assert facts[entry["page"]]["images"], f"{entry['page']}: no figure"
        # notebooks 01-03 number their display equations (\tag{N.k}): MathJax shows the numbers
        n = int(Path(entry["page"]).name[:2])
        assert len(facts[entry["page"]]["numbers"]) >= 5, (entry["page"], facts[entry["page"]]["numbers"])
        assert f"({n}.1)" in facts[entry["page"]]["numbers"], (entry["page"], facts[entry["page"]]["numbers"])
        # every figure is shown numbered, its picture with its caption
        assert [c[0] for c in facts[entry["page"]]["captions"]] == [f"fig-{t.replace('.', '-')}" for t in entry["figures"]]
        assert all(c[1].startswith(f"Figure {n}.") for c in facts[entry["page"]]["captions"]), facts[entry["page"]]["captions"]
    assert any("02_" in href for href in facts["search.html?q=reassociation"]["results"]), facts["search.html?q=reassociation"]
