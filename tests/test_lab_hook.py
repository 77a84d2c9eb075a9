"""`make lab`'s pre-save hook keeps saved notebooks under notebooks/ free of outputs and widget state."""
import copy
import re
from pathlib import Path

import nbformat

from linattn_edu.panels._lab import strip_on_save

REPO = Path(__file__).resolve().parents[1]


def executed_notebook():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x"), nbformat.v4.new_code_cell("1 + 1")])
    nb.cells[1].execution_count = 3
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=3)]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"a": {}}}}
    return nb


def test_hook_strips_notebooks_under_notebooks():
    nb = executed_notebook()
    strip_on_save({"type": "notebook", "content": nb}, "notebooks/01_x.ipynb")
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count is None
    assert "widgets" not in nb.metadata and nb.cells[0].source == "# x"


def test_hook_leaves_other_files_alone():
    for path, kind in (("scratch/mine.ipynb", "notebook"), ("notebooks/notes.md", "file")):
        nb = executed_notebook()
        original = copy.deepcopy(nb)
        strip_on_save({"type": kind, "content": nb}, path)
        assert nb == original, path


def test_make_lab_installs_the_hook():
    make = (REPO / "Makefile").read_text()
    lab = re.search(r"^lab:.*\n((?:\t.*\n)+)", make, flags=re.M).group(1)
    assert "$(LAB_HOOK)" in lab and "pre_save_hook=linattn_edu.panels._lab.strip_on_save" in make
