"""Write student copies of the notebooks: every cell tagged ``solution`` removed, checkers kept.

    python -m linattn_edu.exercises.student --out student      # what `make student` runs

The copies go into a folder of their own (default ``student/``, git-ignored); the notebooks in
``notebooks/`` stay the lecturer's version with the worked solutions. Outputs are stripped too.
Uses only the standard library (a notebook is JSON), so it runs without Jupyter installed.
"""

import argparse
import json
import pathlib

SOLUTION_TAG = "solution"


def is_solution(cell):
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def student_copy(nb):
    """The notebook dict without solution cells, outputs cleared (a new dict; the input is unchanged)."""
    out = dict(nb)
    cells = []
    for cell in nb["cells"]:
        if is_solution(cell):
            continue
        cell = dict(cell)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    out["cells"] = cells
    return out


def write_student_copies(src="notebooks", out="student"):
    src, out = pathlib.Path(src), pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        target = out / path.name
        target.write_text(json.dumps(student_copy(nb), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        removed = sum(map(is_solution, nb["cells"]))
        written.append((target, removed))
    return written


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", default="notebooks")
    p.add_argument("--out", default="student")
    args = p.parse_args(argv)
    for target, removed in write_student_copies(args.src, args.out):
        print(f"{target}: {removed} solution cell(s) removed")


if __name__ == "__main__":
    main()
