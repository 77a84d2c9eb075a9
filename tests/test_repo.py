"""Repository hygiene: notebooks stored clean, environment.yml == pyproject.toml, layout present."""
import json
import pathlib
import re
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
