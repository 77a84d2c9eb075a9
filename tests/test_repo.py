"""Repository hygiene: notebooks stored clean, environment.yml == pyproject.toml, layout present."""
import json
import pathlib
import re
import subprocess
import sys

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python >= 3.11; the packaging checks run there")

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_layout():
    for path in ("notebooks", "linattn_edu", "figures", "tests", "environment.yml", "README.md",
                 "pyproject.toml", "Makefile", ".ci/run"):
        assert (ROOT / path).exists(), path


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_stored_without_outputs(nb):
    data = json.loads(nb.read_text())
    for i, cell in enumerate(data["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [], f"{nb.name} cell {i} has stored outputs (clear them)"
            assert cell.get("execution_count") is None, f"{nb.name} cell {i} has an execution count"


def _nbstripout(paths):
    """{path: the notebook as `nbstripout --keep-id` (the filter `make hooks` installs) would stage it}; one process."""
    run = subprocess.run([sys.executable, "-m", "nbstripout", "--keep-id", "--textconv", *map(str, paths)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, f"nbstripout failed (is the test extra installed?): {run.stderr}"
    decoder, text, pos, docs = json.JSONDecoder(), run.stdout, 0, []
    while text[pos:].strip():
        pos += len(text[pos:]) - len(text[pos:].lstrip())
        doc, pos = decoder.raw_decode(text, pos)
        docs.append(doc)
    assert len(docs) == len(paths), f"nbstripout printed {len(docs)} notebooks for {len(paths)} files"
    return dict(zip(paths, docs))


@pytest.fixture(scope="module")
def stripped():
    return _nbstripout(NOTEBOOKS)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_as_the_nbstripout_filter_leaves_it(nb, stripped):
    """`make hooks` installs the nbstripout filter (.gitattributes) in a contributor's clone; git config is
    not cloned, so here the tracked notebook must already be what that filter would stage: no outputs,
    counts, widget state (the cause of "Error displaying widget: model not found" on reopening) or
    execution metadata. Compared as JSON, so key order and indentation do not matter."""
    stored = json.loads(nb.read_text())
    assert "widgets" not in stored.get("metadata", {}), f"{nb.name} stores widget state (metadata.widgets)"
    assert stripped[nb] == stored, (
        f"{nb.name} is not stored as `nbstripout --keep-id` would stage it; run "
        f"`.venv/bin/python -m nbstripout --keep-id {nb.relative_to(ROOT)}` (and `make hooks` once)")


def test_the_nbstripout_check_catches_a_saved_notebook(tmp_path):
    """The comparison above fails for a notebook as JupyterLab saves it (outputs, a count, widget state)."""
    nb = json.loads(NOTEBOOKS[0].read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}]
    code["execution_count"] = 7
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    saved = tmp_path / "saved.ipynb"
    saved.write_text(json.dumps(nb, indent=1))
    clean = _nbstripout([saved])[saved]
    assert clean != nb
    code_clean = next(c for c in clean["cells"] if c["cell_type"] == "code")
    assert code_clean["outputs"] == [] and code_clean["execution_count"] is None
    assert "widgets" not in clean["metadata"]
    assert [c.get("id") for c in clean["cells"]] == [c.get("id") for c in nb["cells"]], "cell ids must be kept"


def test_gitattributes_routes_notebooks_through_nbstripout():
    lines = [line.split() for line in (ROOT / ".gitattributes").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert ["*.ipynb", "filter=nbstripout"] in lines and ["*.ipynb", "diff=ipynb"] in lines, lines
    assert "filter.nbstripout.clean" in (ROOT / "Makefile").read_text(), "make hooks must define the filter"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_asserts_and_imports_the_library(nb):
    src = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
    assert re.search(r"\bassert\b|np\.testing|torch\.testing", src), f"{nb.name} checks none of its claims"
    assert "linattn_edu" in src, f"{nb.name} does not import the library"


def _pip_section(text):
    lines, inside = [], False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("- pip:"):
            inside = True
            continue
        if inside:
            if s.startswith("- "):
                lines.append(s[2:].split("#")[0].strip())
            elif s and not s.startswith("#"):
                break
    return lines


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"]) + [d for extra in project["optional-dependencies"].values() for d in extra]
    wanted = [w.split(";")[0].strip() for w in wanted]
    got = _pip_section((ROOT / "environment.yml").read_text())
    assert sorted(got) == sorted(wanted), (got, wanted)


def test_torch_range_admits_the_local_cpu_wheel_and_caps_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch_spec = [d for d in project["dependencies"] if d.startswith("torch")]
    assert torch_spec == ["torch>=2.4,<2.14"]


def equation_tags_and_references(nb):
    """(tags in order, references) of a notebook's Markdown: \\tag{N.k} on display equations, and "(N.k)"
    written in the prose to point at one, N the notebook's number."""
    number = int(nb.name[:2])
    text = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "markdown")
    tags = re.findall(r"\\tag\{(\d+\.\d+)\}", text)
    prose = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)                 # references live outside the displays
    refs = re.findall(rf"\(({number}\.\d+)\)", prose)
    return number, tags, refs


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_numbered_equations_are_in_order_and_every_reference_has_its_equation(nb):
    """Equation numbers (issue #16: numbered, cross-referenced equations) are N.1, N.2, ... in reading
    order, with N the notebook's number, and a "(N.k)" in the text names a numbered equation. They are
    written as \\tag{N.k}, which MathJax shows the same in JupyterLab and on the site."""
    number, tags, refs = equation_tags_and_references(nb)
    assert tags == [f"{number}.{k}" for k in range(1, len(tags) + 1)], f"{nb.name}: equation tags {tags}"
    missing = sorted(set(refs) - set(tags))
    assert not missing, f"{nb.name}: the text refers to equations {missing} that no \\tag numbers"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_display_equation_is_numbered(nb):
    text = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "markdown")
    untagged = [m[:60] for m in re.findall(r"\$\$(.+?)\$\$", text, flags=re.S) if "\\tag{" not in m]
    assert not untagged, f"{nb.name}: display equations without a number (\\tag{{N.k}}): {untagged}"


def test_the_text_refers_to_numbered_equations():
    assert sum(len(equation_tags_and_references(nb)[2]) for nb in NOTEBOOKS) >= 3, "no notebook refers to its equations"


def _builder():
    import importlib.util
    spec = importlib.util.spec_from_file_location("book_build", ROOT / "book" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIGURE_CODE = re.compile(r"plt\.show\(|^show\(|plt\.subplots\(", re.M)   # a cell that draws a picture


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_a_numbered_caption(nb):
    """Numbered, captioned figures (issue #16): right after each cell that draws a picture, a Markdown cell
    **Figure N.k.** with its caption, N the notebook's number and k = 1, 2, ... (book/build.py makes it the
    figure's caption on the site, and fails on a picture without one; this checks the notebooks as stored)."""
    import nbformat
    book = _builder()
    doc = nbformat.read(nb, as_version=4)
    captions = book.figure_captions(doc, int(nb.name[:2]), nb.name)       # raises if out of order
    captioned = {code for _, code, _ in captions}
    drawing = [i for i, c in enumerate(doc.cells) if c.cell_type == "code" and FIGURE_CODE.search(c.source)]
    missing = [(i, doc.cells[i].source.splitlines()[-1][:60]) for i in drawing if i not in captioned]
    assert not missing, f"{nb.name}: cells that draw a figure without a **Figure N.k.** caption after them: {missing}"
    for tag, _, ci in captions:
        assert len(book.FIG_CAPTION.match(doc.cells[ci].source).group(3)) >= 40, \
            f"{nb.name}: the caption of Figure {tag} says too little"


def _figure_references(book, doc):
    """The "Figure N.k" references in a notebook's prose (outside math and code; a caption's own number is
    not a reference)."""
    refs = []
    for c in doc.cells:
        if c.cell_type == "markdown":
            m = book.FIG_CAPTION.match(c.source)
            text = m.group(3) if m else c.source
            refs += [r for part in book.NOT_PROSE.split(text)[::2] for r in book.FIG_REF.findall(part)]
    return refs


def test_figure_references_name_figures_that_exist():
    import nbformat
    book = _builder()
    docs = {nb: nbformat.read(nb, as_version=4) for nb in NOTEBOOKS}
    known = {t for nb, doc in docs.items() for t, _, _ in book.figure_captions(doc, int(nb.name[:2]), nb.name)}
    refs = {nb.name: _figure_references(book, doc) for nb, doc in docs.items()}
    missing = [(name, r) for name, rs in refs.items() for r in rs if r not in known]
    assert not missing, f"references to figures that no caption numbers: {missing}"
    silent = [name for name, rs in refs.items() if not rs]
    assert not silent, f"notebooks whose text never refers to a figure by its number (Figure N.k): {silent}"
