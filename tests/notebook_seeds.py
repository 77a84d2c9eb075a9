"""Run a notebook top to bottom under another base seed (LINATTN_SEED), as CI's second pass does.

Used by tests/test_notebook_seeds_a.py and _b.py (two files so pytest-xdist's --dist loadfile can put
them on two workers). Which seeds: the environment variable LINATTN_TEST_SEEDS (space-separated,
default "1"); `make test-seeds` sets "0 1 2 3 4".
"""
import os
import pathlib

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def seeds_to_test():
    raw = os.environ.get("LINATTN_TEST_SEEDS", "1").split()
    return [int(s) for s in raw]


def run_notebook(path, seed, monkeypatch, timeout=300):
    """Execute every cell of `path` in a fresh kernel with LINATTN_SEED=seed; an assert failing raises."""
    monkeypatch.setenv("LINATTN_SEED", str(seed))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb
