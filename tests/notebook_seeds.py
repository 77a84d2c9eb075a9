"""Run a notebook top to bottom under another base seed (LINATTN_SEED), as CI's second pass does.

Used by tests/test_notebook_seeds_a.py and _b.py (two files so pytest-xdist's --dist loadfile can put
them on two workers). Which seeds: the environment variable LINATTN_TEST_SEEDS (space-separated);
`make test-seeds` sets "0 1 2 3 4". Unset (as in `make test`), these tests skip with the reason below:
CI's second-seed pass is the course site's build (tests/test_book.py -> book/build.py), which executes
every notebook with LINATTN_SEED=1 and fails on any cell error, so running them here too would execute
every notebook a fourth time (nbval, the site, the browser suite) for no new check.
"""
import os
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


SKIP_REASON = ("LINATTN_TEST_SEEDS unset: the second seed (LINATTN_SEED=1) runs in the site build, "
               "tests/test_book.py; `make test-seeds` runs seeds 0-4 here")


def seeds_to_test():
    raw = os.environ.get("LINATTN_TEST_SEEDS", "").split()
    if not raw:
        return [pytest.param(None, marks=pytest.mark.skip(reason=SKIP_REASON))]
    return [int(s) for s in raw]


def run_notebook(path, seed, monkeypatch, timeout=300):
    """Execute every cell of `path` in a fresh kernel with LINATTN_SEED=seed; an assert failing raises."""
    monkeypatch.setenv("LINATTN_SEED", str(seed))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb
