"""Every notebook passes its asserts under another base seed too (first/second half: see notebook_seeds.py)."""
import pytest

from notebook_seeds import NOTEBOOKS, run_notebook, seeds_to_test

pytestmark = pytest.mark.notebooks
SELECTED = NOTEBOOKS[: (len(NOTEBOOKS) + 1) // 2]


@pytest.mark.parametrize("seed", seeds_to_test())
@pytest.mark.parametrize("path", SELECTED, ids=lambda p: p.stem[:2])
def test_notebook_passes_under_seed(path, seed, monkeypatch):
    run_notebook(path, seed, monkeypatch)
