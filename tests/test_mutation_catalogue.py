"""The mutation check (tests/mutation/run.py) and its catalogue stay true to the library.

* every catalogued mutant still applies to the current source (its text occurs exactly once), so the
  list cannot rot silently when the library changes;
* the stored report (benchmarks/results/mutants.md, written by `make test-mutants`) lists every
  mutant of the catalogue as caught by the notebook that teaches it;
* the runner itself can tell caught from escaped: one real mutant (caught by notebook 01) and one
  harmless edit (must be reported as escaped) run end to end.
"""
import pathlib
import re

import pytest

from mutation import run

ROOT = pathlib.Path(__file__).resolve().parents[1]
REPORT = ROOT / "benchmarks" / "results" / "mutants.md"
MUTANTS = run.load_catalogues()


def test_catalogue_is_large_enough_and_covers_the_notebooks():
    assert len(MUTANTS) >= 15, f"{len(MUTANTS)} mutants"
    taught = {pathlib.Path(m["taught_by"]).name[:2] for m in MUTANTS}
    assert len(taught) >= 8, f"mutants teach only notebooks {sorted(taught)}"


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m["id"])
def test_mutant_applies_to_the_current_source(mutant):
    run.check_applies(mutant)


def test_stored_report_has_every_mutant_caught_by_its_notebook():
    text = REPORT.read_text(encoding="utf-8")
    assert re.search(r"^Command: `python -m tests\.mutation\.run", text, re.M) and re.search(r"^Date: 20\d\d-", text, re.M)
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| id")}
    missing = [m["id"] for m in MUTANTS if m["id"] not in rows]
    assert not missing, f"not in the stored report (run `make test-mutants`): {missing}"
    escaped = [i for i, line in rows.items() if "**NO**" in line]
    assert not escaped, f"escaped their notebook in the stored report: {escaped}"


@pytest.mark.notebooks
def test_runner_tells_caught_from_escaped():
    nb01 = "notebooks/01_attention_is_a_kernel_smoother.ipynb"
    real = [m for m in MUTANTS if m["taught_by"] == nb01][0]
    assert run.run_mutant(real, run_tests=False)["notebook_caught"], real["id"]
    harmless = dict(id="harmless", file="linattn_edu/__init__.py", old='__version__ = "0.1.0"',
                    new='__version__ = "0.1.0"  # a comment changes nothing', taught_by=nb01, why="no bug")
    assert not run.run_mutant(harmless, run_tests=False)["notebook_caught"]
