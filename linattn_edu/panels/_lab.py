"""What `make lab` gives JupyterLab so the tracked notebooks stay clean when a student saves them.

``strip_on_save`` is a Jupyter server pre-save hook (FileContentsManager.pre_save_hook): a notebook
saved under notebooks/ is written without outputs, execution counts or widget state, exactly as the
repository keeps them (tests/test_repo.py). The student's open notebook keeps its outputs until it
is closed; reopened, it shows clean cells to run again, never "Error displaying widget: model not
found" (the widget state a kernel no longer has).
"""
from pathlib import PurePath


def strip_notebook(nb):
    """Clear outputs and execution counts of every code cell and drop saved widget state (in place)."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def strip_on_save(model, path, contents_manager=None, **kwargs):
    """pre_save_hook: strip notebooks whose path lies under notebooks/ (relative to the server root)."""
    if model.get("type") != "notebook" or model.get("content") is None:
        return
    if "notebooks" in PurePath(path).parts[:-1]:
        strip_notebook(model["content"])
