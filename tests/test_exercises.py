"""The exercise format (linattn_edu.exercises): student cells, checkers, folded solutions, student copies.

Per notebook: at least two exercises whose student cell calls a checker `ex.exN(...)` from
`linattn_edu.exercises.nbNN`; every solution cell tagged `solution` and collapsed; the student copy
written by `python -m linattn_edu.exercises.student` keeps every cell but the solutions. The per-notebook
tests (tests/test_exercises_nbNN*.py) check that each checker accepts the right answer and rejects
plausible wrong ones; the notebooks' own solution cells assert `.ok` under nbval.
"""
import importlib
import inspect
import json
import pathlib
import re

import pytest

from linattn_edu.exercises import Feedback, student

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CALL = re.compile(r"\bex\.(ex\w+)\(")


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _src(cell):
    return "".join(cell["source"])


def _module(path):
    return importlib.import_module(f"linattn_edu.exercises.nb{path.name[:2]}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_notebook_has_two_checked_exercises(path):
    cells = _cells(path)
    student_calls = {c for cell in cells if cell["cell_type"] == "code" and not student.is_solution(cell)
                     for c in CALL.findall(_src(cell))}
    assert len(student_calls) >= 2, f"{path.name}: student cells call {sorted(student_calls)} (need >= 2 checkers)"
    assert any(f"from linattn_edu.exercises import nb{path.name[:2]} as ex" in _src(c) for c in cells), \
        f"{path.name}: does not import its checkers as `ex`"
    module = _module(path)
    for name in student_calls:
        assert callable(getattr(module, name, None)), f"{path.name} calls ex.{name}, missing in {module.__name__}"
        solved = [c for c in cells if student.is_solution(c) and c["cell_type"] == "code"
                  and re.search(rf"assert\s+ex\.{name}\(.*\)\.ok", _src(c))]
        assert solved, f"{path.name}: no solution cell asserts ex.{name}(...).ok"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_solution_cells_are_folded(path):
    for i, cell in enumerate(_cells(path)):
        if student.is_solution(cell):
            assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, \
                f"{path.name} cell {i}: solution cell not collapsed (metadata.jupyter.source_hidden)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_every_checker_says_not_attempted_for_a_stub(path):
    module = _module(path)
    checkers = [(n, f) for n, f in inspect.getmembers(module, inspect.isfunction)
                if n.startswith("ex") and f.__module__ == module.__name__]
    assert len(checkers) >= 2, f"{module.__name__} defines {len(checkers)} checkers"
    for name, f in checkers:
        required = [p for p in inspect.signature(f).parameters.values()
                    if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        verdict = f(*[...] * len(required))
        assert isinstance(verdict, Feedback) and verdict.ok is None, f"{module.__name__}.{name}(...) -> {verdict!r}"


def test_student_copies_have_no_solutions(tmp_path):
    written = student.write_student_copies(ROOT / "notebooks", tmp_path)
    assert [t.name for t, _ in written] == [p.name for p in NOTEBOOKS]
    for (target, removed), path in zip(written, NOTEBOOKS):
        original, copy = _cells(path), _cells(target)
        solutions = [c for c in original if student.is_solution(c)]
        assert removed == len(solutions) >= 2, f"{path.name}: {removed} solution cells"
        assert not any(student.is_solution(c) for c in copy)
        assert len(copy) == len(original) - removed
        kept = [_src(c) for c in original if not student.is_solution(c)]
        assert [_src(c) for c in copy] == kept                    # everything else kept, in order
        copied = {_src(c) for c in copy}
        assert not any(_src(c) in copied for c in solutions if _src(c).strip())   # no solution text survives
        assert all(c.get("outputs", []) == [] for c in copy if c["cell_type"] == "code")
