"""Build the course site:  python book/build.py [--out _build/html] [--jobs 2] [--no-cache] [--no-execute]

The engine is Sphinx + myst-nb + sphinx-book-theme (book/conf.py), all from the package index, which
ship their assets: the build fetches nothing. This script does what the engine does not, then runs it:
  1. reads book/toc.yml (lectures -> notebooks, teaching order) and checks it names every notebook once;
  2. executes each notebook once with nbclient (working directory notebooks/), LINATTN_SEED=1, two
     notebooks at a time; a cell error fails the build (so the site build is also CI's run of every
     notebook under a second seed). An executed copy is cached in _build/executed/ under a hash of the
     notebook, the library sources, the stored results and the seed: a rebuild with nothing changed
     executes nothing;
  3. replaces every interactive panel (an ipywidgets view, which needs a kernel) by its static state: a
     line naming the control values, then the figure the panel drew at those values (its Image widget);
  4. folds what students open on purpose: <details> blocks in Markdown (their body still parsed as
     Markdown, math included) and cells tagged `solution`; turns "Next: **NN title**" into a link, and
     "(N.k)" in the prose into a link to the display equation tagged \\tag{N.k} (on any page);
  5. stages the sources in _build/src: the executed notebooks, book/index.md with the README's gallery
     and one table of contents per lecture, docs/teaching.md, book/api.md (the API reference from the
     docstrings), figures/, and MathJax 3 (from the `django-static-mathjax` package) for offline LaTeX;
  6. runs `sphinx-build -W` (a warning fails the build) into <out>, and writes <out>/book.json (pages,
     titles, lectures, panels, images) for tests/test_book.py.

Why not Jupyter Book 2 (mystmd): its HTML build downloads the site theme at build time. Checked on
2026-11-28 with jupyter-book 2.1.7 / myst 1.11.0 in a fresh venv, `jupyter-book build --html` stops at
"Querying template metadata from https://api.mystmd.org/templates/site/myst/book-theme ... ENOTFOUND";
the built theme is not published on PyPI or npm. Sphinx + myst-nb + sphinx-book-theme is the Jupyter
Book 1 stack, still maintained, and installs whole from PyPI.
"""
import argparse
import concurrent.futures
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = ROOT / "notebooks"
CACHE = ROOT / "_build" / "executed"
SRC = ROOT / "_build" / "src"
MARKER = ".linattn-book"          # written into the output folder; only such a folder is ever wiped

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CELL_TIMEOUT_S = 300
BOOK_SEED = "1"                   # the site's notebooks run under a second seed (tests run seed 0)


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
    h = hashlib.sha256(f"LINATTN_SEED={BOOK_SEED}".encode())
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
    os.environ["LINATTN_SEED"] = BOOK_SEED                  # the kernel inherits this process's environment
    path = Path(path_str)
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        raise BookError(f"{path.name}: a cell failed while building the book (LINATTN_SEED={BOOK_SEED}):\n{err}") from None
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
        if fmt == "url":                                     # panels.show sends the PNG as a data: URL
            m = re.match(r"data:image/(png|jpeg|svg\+xml);base64,(.*)\Z", base64.b64decode(data).decode("ascii"), re.S)
            if m is None:
                raise BookError(f"{where}: the panel's image (model {model_id}) is a URL, not an embedded picture")
            fmt, data = m.group(1), m.group(2)
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


# ---------------------------------------------------------------- Markdown: folds, links, solutions
DETAILS = re.compile(r"<details>\s*<summary>(.*?)</summary>(.*?)</details>", flags=re.S)
NEXT_PLAIN = re.compile(r"^(Next:\s*)\*\*(\d\d)\b([^*]*)\*\*", flags=re.M)
TEX = [(r"\varphi", "φ"), (r"\phi", "φ"), (r"^\top", "ᵀ"), (r"\top", "ᵀ"), (r"\cdot", "·"), (r"\odot", "⊙"),
       (r"\sqrt", "√"), (r"\,", " "), (r"\;", " "), (r"\ ", " ")]
SOLUTION_PROMPTS = {"code_prompt_show": "Solution (click to show)", "code_prompt_hide": "Hide the solution"}


def plain_title(text):
    """A heading's text without LaTeX, for <title>: $(\\phi(Q)\\phi(K)^\\top)V$ -> (φ(Q)φ(K)ᵀ)V."""
    def inline(m):
        tex = m.group(1)
        for a, b in TEX:
            tex = tex.replace(a, b)
        tex = re.sub(r"\\([A-Za-z]+)", r"\1", tex)
        return tex.replace("{", "").replace("}", "")
    return re.sub(r"\$([^$]+)\$", inline, text).replace("**", "").strip()


def _fold(summary, body, css_class):
    """A closed fold whose body MyST still parses as Markdown: the HTML tags stand on their own lines,
    with blank lines around the body (CommonMark ends an HTML block at a blank line)."""
    return f'\n\n<details class="{css_class}">\n<summary>{summary}</summary>\n\n{body.strip()}\n\n</details>\n\n'


def fold_markdown(nb, names):
    """Prepare nb's cells for the site; returns the number of <details> folds in its Markdown.

    * <details><summary>S</summary> Markdown </details> -> the same fold, laid out so that its body is
      parsed as Markdown (left as it is, the blank line after <summary> ends the HTML block: the fold
      renders empty with its content open below it);
    * a plain "Next: **NN title**" line -> a link to notebook NN (names: prefix -> notebook file name);
    * a Markdown cell tagged `solution` -> wrapped in a closed "Solution" fold; a code cell tagged
      `solution` -> myst-nb's hide-cell fold (input and output), labelled "Solution".
    """
    folds = 0

    def fold(m):
        nonlocal folds
        folds += 1
        return _fold(m.group(1), m.group(2), "course-fold")

    def link(m):
        name = names.get(m.group(2))
        return m.group(0) if name is None else f"{m.group(1)}[**{m.group(2)}{m.group(3)}**]({name})"

    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "markdown":
            cell.source = NEXT_PLAIN.sub(link, DETAILS.sub(fold, cell.source))
            if "solution" in tags:
                cell.source = _fold("Solution", cell.source, "course-solution")
        elif cell.cell_type == "code" and "solution" in tags:
            cell.metadata["tags"] = [*tags, "hide-cell"]
            cell.metadata.setdefault("mystnb", {}).update(SOLUTION_PROMPTS)
    return folds


EQ_TAG = re.compile(r"\\tag\{(\d+\.\d+)\}")
EQ_DISPLAY = re.compile(r"^([ \t>]*)\$\$(.*?)\$\$", re.S | re.M)       # a display, at the start of its line
EQ_REF = re.compile(r"\((\d+\.\d+)\)")
NOT_PROSE = re.compile(r"(\$\$.*?\$\$|\$[^$\n]*\$|`[^`\n]*`)", re.S)   # math and code: no references there


def equation_label(tag):
    """The site's label of equation N.k (its anchor is the same with '-' for '.')."""
    return "eq-" + tag.replace(".", "-")


def equation_tags(nb):
    """The \\tag{N.k} numbers of a notebook's display equations, in order."""
    return [t for c in nb.cells if c.cell_type == "markdown" for m in EQ_DISPLAY.finditer(c.source)
            for t in EQ_TAG.findall(m.group(2))]


def link_equations(nb, known):
    """Cross-references on the site: a target (label)= before each display equation tagged \\tag{N.k},
    and "(N.k)" in the prose (not in math or code) -> a link to that equation, on whichever page it is
    (known: every tag in the book). The notebooks themselves keep plain "(N.k)", which JupyterLab shows
    as written. Returns the number of references linked."""
    linked = 0

    def target(m):
        tags = EQ_TAG.findall(m.group(2))
        return m.group(0) if not tags else f"{m.group(1)}({equation_label(tags[0])})=\n{m.group(0)}"

    def ref(m):
        nonlocal linked
        if m.group(1) not in known:
            return m.group(0)
        linked += 1
        return f"{{ref}}`({m.group(1)}) <{equation_label(m.group(1))}>`"

    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        cell.source = _link_prose(EQ_DISPLAY.sub(target, cell.source), EQ_REF, ref)
    return linked


FIG_CAPTION = re.compile(r"\A\*\*Figure (\d+)\.(\d+)\.\*\*[ \t]*(.*?)\s*\Z", re.S)   # a caption cell
FIG_REF = re.compile(r"\bFigure (\d+\.\d+)\b")
CAPTION_LIKE = re.compile(r"\A\s*(\*\*\s*Fig|\**\s*Fig(ure|\.)\s*\d+(\.\d+)?\s*\**\s*[.:](?!\d))")    # a misspelt caption
MD_SPECIAL = re.compile(r"([\\`*_\[\]<>$|~#{}])")
PANEL_NOTE = "course-panel-note"


def figure_label(tag):
    """The site's label of Figure N.k (also its anchor)."""
    return "fig-" + tag.replace(".", "-")


def figure_captions(nb, number=None, where="notebook"):
    """The captions of a notebook's figures: [(tag 'N.k', index of the code cell drawing it, index of
    the caption cell), ...] in order. A caption is a Markdown cell starting with **Figure N.k.** right
    after the code cell whose figure it describes (in JupyterLab it reads under the picture). N is the
    notebook's number (when given) and k counts 1, 2, ... down the notebook; anything else is a BookError."""
    found = []
    for i, cell in enumerate(nb.cells):
        m = FIG_CAPTION.match(cell.source) if cell.cell_type == "markdown" else None
        if m is None:
            if cell.cell_type == "markdown" and CAPTION_LIKE.match(cell.source):
                raise BookError(f"{where}, cell {i}: a caption must start with **Figure N.k.** exactly "
                                f"(bold, with the full stop): {cell.source[:60]!r}")
            continue
        tag = f"{int(m.group(1))}.{int(m.group(2))}"
        if i == 0 or nb.cells[i - 1].cell_type != "code":
            raise BookError(f"{where}, cell {i}: the caption of Figure {tag} must follow the code cell drawing it")
        expected = f"{number if number is not None else int(m.group(1))}.{len(found) + 1}"
        if tag != expected:
            raise BookError(f"{where}, cell {i}: Figure {tag} is out of order; this caption should be Figure {expected}")
        found.append((tag, i - 1, i))
    return found


def _link_prose(source, pattern, ref):
    """pattern.sub(ref, ...) on the prose of a Markdown source only, never inside math or code."""
    parts = NOT_PROSE.split(source)      # one group: prose at even places, math and code at odd ones
    return "".join(pattern.sub(ref, part) if i % 2 == 0 else part for i, part in enumerate(parts))


def number_figures(nb, known, number=None, where="notebook"):
    """Numbered, captioned figures on the site. Each caption cell (figure_captions) becomes the caption of
    the figure above it: the code cell gets myst-nb's figure options (name fig-N-k, the caption), which
    wrap its picture in a <figure> with that anchor; the caption cell is dropped. A panel's note (its
    settings, from snapshot_widgets) moves into the caption. "Figure N.k" in the prose (captions
    included, not math or code) becomes a link to that figure on whichever page it is (known: every
    figure of the book); a reference to a figure that does not exist, or a picture without a caption,
    fails the build. Returns (the figure tags, the number of references linked)."""
    import nbformat

    linked = 0

    def ref(m):
        nonlocal linked
        if m.group(1) not in known:
            raise BookError(f"{where}: the text refers to Figure {m.group(1)}, and no figure has that number")
        linked += 1
        return f"{{ref}}`Figure {m.group(1)} <{figure_label(m.group(1))}>`"

    captions = figure_captions(nb, number, where)
    caption_cells = {ci for _, _, ci in captions}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and i not in caption_cells:
            cell.source = _link_prose(cell.source, FIG_REF, ref)
    for tag, code_index, caption_index in captions:
        cell = nb.cells[code_index]
        text = _link_prose(FIG_CAPTION.match(nb.cells[caption_index].source).group(3), FIG_REF, ref)
        pictures, notes, kept = [], [], []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if out.get("output_type") not in ("display_data", "execute_result"):
                kept.append(out)
            elif PANEL_NOTE in data.get("text/html", ""):
                notes.append(data["text/plain"])
            elif any(k.startswith("image/") for k in data):
                pictures.append(out)
                kept.append(out)
            elif set(data) == {"text/plain"}:       # a value's repr: shown as printed text, outside the figure
                kept.append(nbformat.v4.new_output("stream", name="stdout", text=data["text/plain"] + "\n"))
            else:
                raise BookError(f"{where}, cell {code_index}: Figure {tag}'s cell also displays {sorted(data)}; "
                                f"a captioned cell shows its picture and text only")
        if len(pictures) != 1:
            raise BookError(f"{where}, cell {code_index}: the cell captioned Figure {tag} shows {len(pictures)} "
                            f"pictures; a caption belongs to exactly one")
        cell.outputs = kept
        notes = [MD_SPECIAL.sub(r"\\\1", n) for n in notes]          # the settings, as plain text
        caption = " ".join([f"**Figure {tag}.** {text}", *notes])
        cell.metadata.setdefault("mystnb", {})["figure"] = {"name": figure_label(tag), "caption": caption}
    captioned = {code_index for _, code_index, _ in captions}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and i not in captioned and any(
                k.startswith("image/") for o in cell.get("outputs", []) for k in o.get("data", {})):
            raise BookError(f"{where}, cell {i} draws a figure without a caption: add a Markdown cell right "
                            f"after it that starts with **Figure N.k.**")
    nb.cells = [c for i, c in enumerate(nb.cells) if i not in caption_cells]
    return [tag for tag, _, _ in captions], linked


def _title(nb, fallback):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+?)\s*$", cell.source, flags=re.M)
            if m:
                return m.group(1)
    return fallback


# ---------------------------------------------------------------- staging and Sphinx
def copy_mathjax(static):
    """MathJax 3 (es5 build, CommonHTML output with its woff fonts) into <static>/mathjax."""
    import mathjax                                  # the django-static-mathjax package: MathJax's files only

    src = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (src / "tex-mml-chtml.js").exists():
        raise BookError(f"MathJax 3 not found in {src} (pip install -e '.[book]')")
    shutil.copytree(src, static / "mathjax", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*svg*", "node-main.js", "*.map"))


def _gallery(readme):
    """The README's gallery section (heading to the next ## heading), as the landing page shows it."""
    text = Path(readme).read_text()
    m = re.search(r"^## Gallery\n(.*?)(?=^## )", text, flags=re.S | re.M)
    if m is None:
        raise BookError(f"{readme} has no '## Gallery' section for the landing page")
    return m.group(1).strip()


def _toctrees(lectures, extra_docs):
    """One toctree per lecture (the sidebar's sections, in teaching order), then one for the other pages."""
    blocks = []
    for title, entries in [(t, [f"notebooks/{p.stem}" for p in paths]) for t, paths in lectures] + \
            ([("More", extra_docs)] if extra_docs else []):
        body = "\n".join(entries)
        blocks.append(f"```{{toctree}}\n:caption: {title}\n:maxdepth: 1\n\n{body}\n```\n")
    return "\n".join(blocks)


def stage(src, lectures, executed, index_md, readme, extra_pages, figures_dir):
    """Write the Sphinx sources into src; returns the manifest entries (one per notebook)."""
    import nbformat

    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    static = src / "_static"
    static.mkdir()
    shutil.copy(BOOK / "course.css", static / "course.css")
    copy_mathjax(static)
    if Path(figures_dir).is_dir():
        shutil.copytree(figures_dir, src / "figures", ignore=shutil.ignore_patterns("*.py", "__pycache__"))

    order = [p for _, paths in lectures for p in paths]
    names = {p.name[:2]: p.name for p in order}
    known = {t for p in order for t in equation_tags(executed[p])}
    known_figures = {t for p in order for t, _, _ in figure_captions(executed[p], int(p.name[:2]), p.name)}
    manifest, titles = [], {}
    for p in order:
        nb = executed[p]
        panels = snapshot_widgets(nb, where=p.name)
        folds = fold_markdown(nb, names)
        references = link_equations(nb, known)
        figures, figure_references = number_figures(nb, known_figures, int(p.name[:2]), p.name)
        solutions = sum("solution" in c.get("metadata", {}).get("tags", []) for c in nb.cells)
        heading = _title(nb, p.stem)
        nbformat.write(nb, src / "notebooks" / p.name)
        titles[f"notebooks/{p.stem}"] = plain_title(heading)
        lecture = next(t for t, paths in lectures if p in paths)
        manifest.append({"notebook": p.name, "page": f"notebooks/{p.stem}.html", "title": plain_title(heading),
                         "lecture": lecture, "panels": panels, "folds": folds, "solution_cells": solutions,
                         "equations": equation_tags(nb), "equation_references": references,
                         "figures": figures, "figure_references": figure_references})

    extra_docs = []
    for page_name, md_path in extra_pages:
        md_path = Path(md_path)
        if md_path.exists():
            shutil.copy(md_path, src / page_name)
            extra_docs.append(Path(page_name).stem)
            titles[Path(page_name).stem] = plain_title(_title(nbformat.v4.new_notebook(
                cells=[nbformat.v4.new_markdown_cell(md_path.read_text())]), md_path.stem))
    text = Path(index_md).read_text()
    if "{{ toc }}" not in text:
        raise BookError(f"{index_md} must contain the line {{{{ toc }}}} where the table of contents goes")
    # the staged notebooks sit in src/notebooks, as in the repository, so the README's links resolve
    gallery = _gallery(readme) if "{{ gallery }}" in text else ""
    (src / "index.md").write_text(text.replace("{{ toc }}", _toctrees(lectures, extra_docs))
                                  .replace("{{ gallery }}", gallery))
    (src / "titles.json").write_text(json.dumps(titles, indent=1, ensure_ascii=False) + "\n")
    return manifest


def run_sphinx(src, out, strict=True, jobs=2):
    """sphinx-build -b html src out with book/conf.py; -W: a warning fails the build."""
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(BOOK), "-q", "-j", str(jobs),
           *(["-W", "--keep-going"] if strict else []), "-d", str(Path(src).parent / "doctrees"), str(src), str(out)]
    env = dict(os.environ, LINATTN_BOOK_SRC=str(Path(src).resolve()))
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    log = (run.stdout + run.stderr).strip()
    if run.returncode != 0:
        raise BookError(f"sphinx-build failed (exit {run.returncode}):\n{log}")
    if log:
        print(log)


def build(out=ROOT / "_build" / "html", jobs=2, use_cache=True, toc_path=BOOK / "toc.yml",
          notebook_dir=NOTEBOOKS, index_md=BOOK / "index.md", cache_dir=CACHE, src=None, strict=True,
          readme=ROOT / "README.md", figures_dir=ROOT / "figures", execute=True,
          extra_pages=(("teaching.md", ROOT / "docs" / "teaching.md"), ("api.md", BOOK / "api.md"))):
    """Build the site into out; returns the manifest (list of page dicts)."""
    import nbformat

    t0 = time.perf_counter()
    out = Path(out).resolve()
    src = Path(src).resolve() if src is not None else out.parent / "src"
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise BookError(f"{out} exists and was not written by book/build.py; refusing to overwrite it")
        shutil.rmtree(out)

    book_title, lectures = read_toc(toc_path, notebook_dir)
    order = [p for _, paths in lectures for p in paths]
    if execute:
        executed = execute_all(order, jobs=jobs, use_cache=use_cache, cache_dir=cache_dir)
    else:                      # drafting the text: pages without outputs, in seconds (never for the real site)
        executed = {p: nbformat.read(p, as_version=4) for p in order}
    t_exec = time.perf_counter() - t0
    manifest = stage(src, lectures, executed, index_md, readme, extra_pages, figures_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by book/build.py; deleted and rewritten by every build\n")
    run_sphinx(src, out, strict=strict, jobs=jobs)
    for p in order:            # the download button gives the notebook as stored (clean, panels live), not the staged copy
        shutil.copy(p, out / "_sources" / "notebooks" / p.name)
    (out / "book.json").write_text(json.dumps({"title": book_title, "pages": manifest}, indent=1,
                                              ensure_ascii=False) + "\n")
    print(f"book: {len(order)} notebook pages + index.html in {out} "
          f"(execution {t_exec:.1f} s, total {time.perf_counter() - t0:.1f} s)")
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "_build" / "html"), help="output folder (default _build/html)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed in parallel (default 2)")
    parser.add_argument("--no-cache", action="store_true", help="execute every notebook, ignoring _build/executed")
    parser.add_argument("--no-execute", action="store_true",
                        help="render the notebooks as stored, without outputs (drafting the text; not the real site)")
    parser.add_argument("--allow-warnings", action="store_true", help="do not fail on Sphinx warnings (CI never)")
    args = parser.parse_args(argv)
    try:
        build(Path(args.out), jobs=args.jobs, use_cache=not args.no_cache, strict=not args.allow_warnings,
              execute=not args.no_execute)
    except BookError as err:
        sys.exit(f"book: {err}")


if __name__ == "__main__":
    main()
