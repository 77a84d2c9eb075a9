"""Build the course as a static HTML site:  python book/build.py [--out _build/html] [--jobs 2] [--no-cache]

What it does, in order:
  1. reads book/toc.yml (lectures -> notebooks, teaching order) and checks it names every notebook once;
  2. executes each notebook once with nbclient (working directory notebooks/), in parallel worker
     processes; an executed copy is cached in _build/executed/ under a hash of the notebook and of the
     library sources, so a rebuild with nothing changed executes nothing;
  3. replaces every interactive panel (an ipywidgets view, which needs a browser and a kernel) by its
     static state: a line naming the control values, then the figure the panel drew at those values;
  4. renders each notebook with nbconvert's JupyterLab template (book/template/: the lab template minus
     everything it would load from a CDN, plus a prev / contents / next bar) and writes
     <out>/NN_name.html, with plot images and Markdown images embedded as data URIs;
  5. writes <out>/index.html from book/index.md, with the table of contents in teaching order,
     <out>/teaching.html from docs/teaching.md (the lecturers' guide), and <out>/book.json (pages,
     titles, lectures, image counts) for tests/test_book.py;
  6. copies MathJax 2.7 from the PyPI package jupyter-server-mathjax into <out>/_static/mathjax, so
     LaTeX renders in the browser with no network.

Why not Jupyter Book 2 (mystmd): its HTML build downloads the site theme at build time. Checked on
2026-11-28 with jupyter-book 2.1.7 / myst 1.11.0 in a fresh venv, `jupyter-book build --html` stops at
"Querying template metadata from https://api.mystmd.org/templates/site/myst/book-theme ... ENOTFOUND";
the built theme is not published on PyPI or npm. Neither this machine nor CI reaches that host, so
the site is built with nbclient + nbconvert, which install from PyPI and need nothing else.
"""
import argparse
import concurrent.futures
import hashlib
import html
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = ROOT / "notebooks"
CACHE = ROOT / "_build" / "executed"
MARKER = ".linattn-book"          # written into the output folder; only such a folder is ever wiped

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"   # the config jupyter-server-mathjax ships
CELL_TIMEOUT_S = 300


class BookError(RuntimeError):
    """A problem the author must fix (a notebook missing from the TOC, a failing cell, a broken panel)."""


# ---------------------------------------------------------------- table of contents
def read_toc(toc_path=BOOK / "toc.yml", notebook_dir=NOTEBOOKS):
    """[(lecture title, [notebook Path, ...]), ...] in teaching order, plus the book title.

    Every notebooks/NN_*.ipynb must be named exactly once; every name must match one notebook.
    """
    import yaml

    toc = yaml.safe_load(Path(toc_path).read_text())
    found = {p.name[:2]: p for p in sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb"))}
    dupes = [p.name for p in Path(notebook_dir).glob("[0-9][0-9]_*.ipynb") if found[p.name[:2]] != p]
    if dupes:
        raise BookError(f"two notebooks share a number prefix: {dupes} (rename one)")
    lectures, seen = [], []
    for lec in toc["lectures"]:
        paths = []
        for prefix in lec["notebooks"]:
            prefix = str(prefix)
            if prefix in seen:
                raise BookError(f"{toc_path}: notebook {prefix} is listed twice")
            seen.append(prefix)
            if prefix in found:
                paths.append(found[prefix])
            else:
                print(f"book: {toc_path} names notebook {prefix}, but notebooks/{prefix}_*.ipynb does not exist "
                      f"yet; left out of the site", file=sys.stderr)
        if paths:
            lectures.append((lec["title"], paths))
    missing = sorted(set(found) - set(seen))
    if missing:
        raise BookError(f"notebooks not in {toc_path}: {[found[m].name for m in missing]} "
                        f"(add them to a lecture so the site shows them in teaching order)")
    return toc["title"], lectures


# ---------------------------------------------------------------- execution (cached)
def _inputs_digest():
    """Hash of everything a notebook's outputs depend on besides the notebook itself."""
    h = hashlib.sha256()
    files = sorted((ROOT / "linattn_edu").rglob("*.py"))
    results = ROOT / "benchmarks" / "results"
    if results.is_dir():
        files += sorted(p for p in results.rglob("*") if p.is_file() and "local" not in p.parts)
    for p in files:
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _execute(path_str, timeout):
    """Execute one notebook (in a worker process); returns (JSON text, seconds)."""
    import nbclient
    import nbformat

    # A kernel started with MPLBACKEND=Agg (as CI scripts often export) shows no figures: the page
    # would lose every plot. Kernels get matplotlib's notebook default, as a student's would.
    os.environ.pop("MPLBACKEND", None)
    path = Path(path_str)
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        raise BookError(f"{path.name}: a cell failed while building the book:\n{err}") from None
    return nbformat.writes(nb), time.perf_counter() - t0


def execute_all(paths, jobs=2, use_cache=True, timeout=CELL_TIMEOUT_S, cache_dir=CACHE):
    """{path: executed NotebookNode}; executes only notebooks whose cache entry is missing or stale."""
    import nbformat

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    digest = _inputs_digest()
    keys = {p: hashlib.sha256(p.read_bytes() + digest.encode()).hexdigest() for p in paths}
    done, todo = {}, []
    for p in paths:
        cached, key_file = cache_dir / p.name, cache_dir / (p.name + ".key")
        if use_cache and cached.exists() and key_file.exists() and key_file.read_text() == keys[p]:
            done[p] = nbformat.read(cached, as_version=4)
            print(f"book: {p.name}: executed copy reused (notebook and library unchanged)")
        else:
            todo.append(p)
    if todo:
        # longest first (times of the last build, if any), so two workers finish together
        timings_file = cache_dir / "timings.json"
        timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
        todo.sort(key=lambda p: -timings.get(p.name, float("inf")))
        failures = []
        with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, min(jobs, len(todo)))) as pool:
            futures = {pool.submit(_execute, str(p), timeout): p for p in todo}
            for fut in concurrent.futures.as_completed(futures):
                p = futures[fut]
                try:
                    text, seconds = fut.result()
                except Exception as err:                  # keep going: report every failing notebook at once
                    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))          # no terminal colours in the log
                    failures.append(text if isinstance(err, BookError) else f"{p.name}: {type(err).__name__}: {text}")
                    print(f"book: {p.name}: FAILED")
                    continue
                (cache_dir / p.name).write_text(text)
                (cache_dir / (p.name + ".key")).write_text(keys[p])
                timings[p.name] = round(seconds, 1)
                done[p] = nbformat.reads(text, as_version=4)
                print(f"book: {p.name}: executed in {seconds:.1f} s")
        timings_file.write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n")
        if failures:
            raise BookError("\n\n".join(failures))
    return done


# ---------------------------------------------------------------- panels -> static state
def _control_value(state):
    labels, index = state.get("_options_labels"), state.get("index")
    if labels is not None and index is not None:                      # Dropdown, SelectionSlider, ...
        return ", ".join(labels[i] for i in index) if isinstance(index, list) else labels[index]
    value = state["value"]
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "(" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) + ")"
    return str(value)


def _walk(model_id, models, controls, outputs, where):
    model = models.get(model_id)
    if model is None:
        raise BookError(f"{where}: widget state for model {model_id} is missing (was the notebook executed "
                        f"with widget state stored?)")
    state = model["state"]
    for child in state.get("children", []):
        _walk(child.removeprefix("IPY_MODEL_"), models, controls, outputs, where)
    if model["model_name"] == "OutputModel":
        outputs.extend(state.get("outputs", []))
    elif model["model_name"] == "ImageModel":                # a panel's picture (panels.show)
        import base64
        data = next((b["data"] for b in model.get("buffers", []) if b.get("path") == ["value"]), None)
        if data is None:
            raise BookError(f"{where}: the panel's image (model {model_id}) has no stored bytes")
        fmt = state.get("format", "png")
        if isinstance(data, (bytes, bytearray)):
            data = base64.b64encode(data).decode()
        outputs.append({"output_type": "display_data", "metadata": {},
                        "data": {f"image/{fmt}": data, "text/plain": "<panel figure>"}})
    elif model["model_name"] in ("HTMLModel", "HTMLMathModel", "LabelModel"):
        pass                                                  # hints and labels: not a control value
    elif ("value" in state or "index" in state) and state.get("description") is not None:
        controls.append((state["description"].rstrip(": ") or "value", _control_value(state)))


def snapshot_widgets(nb, where="notebook"):
    """Replace each widget view in nb's outputs by its static state; returns the number replaced.

    A panel (linattn_edu.panels.show) is a VBox of controls, an Image widget holding the figure that
    was drawn at the controls' initial values, and an Output widget for errors. The replacement is a note listing those values,
    followed by the Output widget's own outputs (the figure). A panel that displayed an error fails
    the build. nb.metadata.widgets is removed, so no page asks for a widget manager.
    """
    import nbformat

    models = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    replaced = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        new = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                new.append(out)
                continue
            controls, outputs = [], []
            _walk(view["model_id"], models, controls, outputs, f"{where}, cell {index}")
            errors = [o for o in outputs if o.get("output_type") == "error"]
            if errors:
                raise BookError(f"{where}, cell {index}: the panel raised {errors[0].get('ename')}: "
                                f"{errors[0].get('evalue')}")
            values = ", ".join(f"{name} = {value}" for name, value in controls)
            note = ("Interactive panel, shown here as drawn at its initial settings"
                    + (f" ({values})" if values else "")
                    + ". Run the notebook in JupyterLab to move the sliders.")
            new.append(nbformat.v4.new_output(
                "display_data", data={"text/html": f'<p class="course-panel-note">{html.escape(note)}</p>',
                                      "text/plain": note}))
            new.extend(nbformat.from_dict(o) for o in outputs)
            replaced += 1
        cell.outputs = new
    nb.metadata.pop("widgets", None)
    return replaced


# ---------------------------------------------------------------- HTML
DETAILS = re.compile(r"<details>\s*<summary>(.*?)</summary>(.*?)</details>", flags=re.S)
NEXT_PLAIN = re.compile(r"^(Next:\s*)\*\*(\d\d)\b([^*]*)\*\*", flags=re.M)
TEX = [(r"\varphi", "φ"), (r"\phi", "φ"), (r"^\top", "ᵀ"), (r"\top", "ᵀ"), (r"\cdot", "·"), (r"\odot", "⊙"),
       (r"\sqrt", "√"), (r"\,", " "), (r"\;", " "), (r"\ ", " ")]


def plain_title(text):
    """A heading's text without LaTeX, for <title> and the prev/next bar: $(\\phi(Q)\\phi(K)^\\top)V$ -> (φ(Q)φ(K)ᵀ)V."""
    def inline(m):
        tex = m.group(1)
        for a, b in TEX:
            tex = tex.replace(a, b)
        tex = re.sub(r"\\([A-Za-z]+)", r"\1", tex)
        return tex.replace("{", "").replace("}", "")
    return re.sub(r"\$([^$]+)\$", inline, text).replace("**", "").strip()


def fold_markdown(nb, render, names):
    """<details><summary>S</summary> Markdown </details> in a Markdown cell -> the same fold with its body
    rendered to HTML first. Left to the page's Markdown renderer, the blank line after <summary> ends
    the HTML block: the fold renders empty with its content open below it. Also turns a plain
    "Next: **NN title**" line into a link to notebook NN (names: prefix -> notebook file name).
    Returns the number of folds."""
    folds = 0

    def fold(m):
        nonlocal folds
        folds += 1
        inner = render(m.group(2).strip())
        inner = "\n".join(line for line in inner.splitlines() if line.strip())   # one HTML block: no blank line
        return f'<details class="course-fold"><summary>{m.group(1)}</summary>\n{inner}\n</details>'

    def link(m):
        name = names.get(m.group(2))
        return m.group(0) if name is None else f"{m.group(1)}[**{m.group(2)}{m.group(3)}**]({name})"

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = NEXT_PLAIN.sub(link, DETAILS.sub(fold, cell.source))
    return folds


def _title(nb, fallback):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+?)\s*$", cell.source, flags=re.M)
            if m:
                return plain_title(m.group(1))
    return fallback


def markdown_html(text):
    """Markdown -> HTML as nbconvert renders a Markdown cell (math left for MathJax)."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    return markdown2html_mistune(text)


def _exporter(mathjax_url):
    from nbconvert import HTMLExporter

    return HTMLExporter(extra_template_basedirs=[str(BOOK)], template_name="template",
                        embed_images=True, mathjax_url=mathjax_url, exclude_input_prompt=True,
                        exclude_output_prompt=True)


def _fix_links(body, pages):
    """href="NN_name.ipynb#x" -> href="NN_name.html#x" for notebooks that have a page."""
    def sub(m):
        name = m.group(2)
        return f'href="{name}.html{m.group(3) or ""}"' if name + ".ipynb" in pages else m.group(0)
    return re.sub(r'href="(\./|\.\./notebooks/)?(\d\d_[\w\-]+)\.ipynb(#[^"]*)?"', sub, body)


def _nav(prev, nxt):
    left = f'<a href="{prev[0]}">&larr; {html.escape(prev[1])}</a>' if prev else "<span></span>"
    right = f'<a href="{nxt[0]}">{html.escape(nxt[1])} &rarr;</a>' if nxt else "<span></span>"
    return f'{left}<a href="index.html">Contents</a>{right}'


def copy_mathjax(out):
    import jupyter_server_mathjax

    src = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(src, out / "_static" / "mathjax", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("SVG"))      # only the HTML-CSS output is used


def build(out=ROOT / "_build" / "html", jobs=2, use_cache=True, toc_path=BOOK / "toc.yml",
          notebook_dir=NOTEBOOKS, index_md=BOOK / "index.md", cache_dir=CACHE,
          extra_pages=(("teaching.html", ROOT / "docs" / "teaching.md"),)):
    """Build the site into out; returns the manifest (list of page dicts)."""
    import nbformat

    t0 = time.perf_counter()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise BookError(f"{out} exists and was not written by book/build.py; refusing to overwrite it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("written by book/build.py; deleted and rewritten by every build\n")

    book_title, lectures = read_toc(toc_path, notebook_dir)
    order = [p for _, paths in lectures for p in paths]
    executed = execute_all(order, jobs=jobs, use_cache=use_cache, cache_dir=cache_dir)
    t_exec = time.perf_counter() - t0

    exporter = _exporter(f"_static/mathjax/MathJax.js?config={MATHJAX_CONFIG}")
    pages = {p.name: p.stem + ".html" for p in order}
    titles = {p: _title(executed[p], p.stem) for p in order}
    manifest = []
    for i, p in enumerate(order):
        nb = executed[p]
        panels = snapshot_widgets(nb, where=p.name)
        folds = fold_markdown(nb, markdown_html, {q.name[:2]: q.name for q in order})
        solutions = sum("solution" in c.get("metadata", {}).get("tags", []) for c in nb.cells)
        nb.metadata["title"] = titles[p]
        prev = (pages[order[i - 1].name], titles[order[i - 1]]) if i > 0 else None
        nxt = (pages[order[i + 1].name], titles[order[i + 1]]) if i + 1 < len(order) else None
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(p.parent), "name": p.stem},
                                                             "course_nav": _nav(prev, nxt)})
        body = _fix_links(body, pages)
        (out / pages[p.name]).write_text(body)
        lecture = next(t for t, paths in lectures if p in paths)
        manifest.append({"notebook": p.name, "page": pages[p.name], "title": titles[p], "lecture": lecture,
                         "panels": panels, "images": body.count('src="data:image/'), "folds": folds,
                         "solution_cells": solutions})

    # landing page: book/index.md with the table of contents where it says {{ toc }}
    toc_md = []
    for title, paths in lectures:
        toc_md.append(f"### {title}\n")
        toc_md += [f"- [{titles[p]}]({pages[p.name]})" for p in paths]
        toc_md.append("")
    text = Path(index_md).read_text()
    if "{{ toc }}" not in text:
        raise BookError(f"{index_md} must contain the line {{{{ toc }}}} where the table of contents goes")
    index_nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text.replace("{{ toc }}", "\n".join(toc_md)))])
    index_nb.metadata["title"] = book_title
    body, _ = exporter.from_notebook_node(index_nb, resources={"metadata": {"path": str(Path(index_md).parent),
                                                                            "name": "index"}})
    (out / "index.html").write_text(_fix_links(body, pages))
    for page_name, md_path in extra_pages:                    # Markdown pages beside the notebooks
        md_path = Path(md_path)
        if md_path.exists():
            extra_nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(md_path.read_text())])
            extra_nb.metadata["title"] = _title(extra_nb, md_path.stem)
            body, _ = exporter.from_notebook_node(extra_nb, resources={
                "metadata": {"path": str(md_path.parent), "name": md_path.stem},
                "course_nav": _nav(None, None)})
            (out / page_name).write_text(_fix_links(body, pages))
    copy_mathjax(out)
    (out / "book.json").write_text(json.dumps({"title": book_title, "pages": manifest}, indent=1) + "\n")
    print(f"book: {len(order)} notebook pages + index.html in {out} "
          f"(execution {t_exec:.1f} s, total {time.perf_counter() - t0:.1f} s)")
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "_build" / "html"), help="output folder (default _build/html)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed in parallel (default 2)")
    parser.add_argument("--no-cache", action="store_true", help="execute every notebook, ignoring _build/executed")
    args = parser.parse_args(argv)
    try:
        build(Path(args.out), jobs=args.jobs, use_cache=not args.no_cache)
    except BookError as err:
        sys.exit(f"book: {err}")


if __name__ == "__main__":
    main()
