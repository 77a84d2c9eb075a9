"""Mutation check: does a plausible bug in a formula fail the notebook that teaches it?

    python -m tests.mutation.run                       # every catalogue, notebook + library tests
    python -m tests.mutation.run --only elu-shift      # one mutant (by id; repeatable)
    python -m tests.mutation.run --catalogue tests/mutation/catalogue_nb01.py --no-tests
    make test-mutants                                  # the whole list; writes the report below

Each entry of a catalogue (``tests/mutation/catalogue_*.py``, a list ``MUTANTS`` of dicts with ``id,
file, old, new, taught_by, why``) is one formula-level bug: ``old`` (which must occur exactly once in
``file``) is replaced by ``new`` in a temporary copy of the repository. Then, with that copy first on
PYTHONPATH (so the copy's ``linattn_edu`` is imported, in pytest and in the notebook kernels alike):

1. the notebook named by ``taught_by`` runs under nbval: it must fail ("caught by the notebook");
2. unless ``--no-tests``, the library tests run (``tests/``, browser and notebook-executing tests
   left out, ``-x``): the first failing test is reported.

A mutant caught by neither is a hole in the course's checks. The report (a Markdown table) goes to
``--report``; the exit status is 1 when any mutant escaped its notebook.
"""

import argparse
import datetime
import os
import pathlib
import platform
import re
import runpy
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIELDS = ("id", "file", "old", "new", "taught_by", "why")


def load_catalogues(paths=None):
    """All mutants, in catalogue order, each a dict with FIELDS plus 'catalogue'."""
    paths = sorted((ROOT / "tests" / "mutation").glob("catalogue_*.py")) if not paths else [pathlib.Path(p) for p in paths]
    mutants = []
    for path in paths:
        for entry in runpy.run_path(str(path))["MUTANTS"]:
            missing = [f for f in FIELDS if f not in entry]
            if missing:
                raise ValueError(f"{path.name}: mutant {entry.get('id', '?')!r} lacks {missing}")
            mutants.append({**entry, "catalogue": path.name})
    ids = [m["id"] for m in mutants]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"duplicate mutant ids: {dup}")
    return mutants


def check_applies(mutant, root=ROOT):
    """Raise ValueError unless ``old`` occurs exactly once in ``file`` and differs from ``new``."""
    path = root / mutant["file"]
    if not path.is_file():
        raise ValueError(f"{mutant['id']}: no file {mutant['file']}")
    count = path.read_text(encoding="utf-8").count(mutant["old"])
    if count != 1:
        raise ValueError(f"{mutant['id']}: the text to mutate occurs {count} times in {mutant['file']} (must be 1)")
    if mutant["old"] == mutant["new"]:
        raise ValueError(f"{mutant['id']}: old and new are the same")
    if not (root / mutant["taught_by"]).is_file():
        raise ValueError(f"{mutant['id']}: taught_by {mutant['taught_by']} does not exist")


def copy_repo(dest):
    """Copy the tracked and untracked-not-ignored files (not .venv, .git, build output) to dest."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.splitlines()
    for rel in files:
        src = ROOT / rel
        if not src.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def _run(cmd, cwd, env, timeout):
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout + p.stderr, time.perf_counter() - t0
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return "timeout", out, time.perf_counter() - t0


def _first_failure(output):
    """The first failing item of a pytest run ('FAILED path::name - message', shortened)."""
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return re.sub(r"\s+", " ", line)[:160]
    return "(failed; no FAILED line)"


def run_mutant(mutant, run_tests=True, timeout=600):
    """Apply one mutant in a temporary copy; return a result dict."""
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant['id']}-") as tmp:
        tmp = pathlib.Path(tmp)
        copy_repo(tmp)
        check_applies(mutant, tmp)
        path = tmp / mutant["file"]
        path.write_text(path.read_text(encoding="utf-8").replace(mutant["old"], mutant["new"]), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(tmp) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1"}
        py = sys.executable
        nb_cmd = [py, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(tmp / mutant["taught_by"]),
                  "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=300"]
        rc, out, secs = _run(nb_cmd, tmp, env, timeout)
        result = {**mutant, "notebook_caught": rc not in (0, "timeout"), "notebook_rc": rc,
                  "notebook_s": round(secs, 1), "notebook_failure": _first_failure(out) if rc not in (0, "timeout") else ""}
        if rc not in (0, 1, "timeout"):
            result["notebook_failure"] = f"pytest exit {rc}: " + out.strip().splitlines()[-1][:120] if out.strip() else f"pytest exit {rc}"
        if run_tests:
            t_cmd = [py, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests", "--ignore=tests/browser",
                     "--ignore=tests/mutation", "-m", "not notebooks and not browser"]
            rc_t, out_t, secs_t = _run(t_cmd, tmp, env, timeout)
            result.update(tests_caught=rc_t not in (0, "timeout"), tests_s=round(secs_t, 1),
                          tests_failure=_first_failure(out_t) if rc_t not in (0, "timeout") else "")
        return result


def report(results, command, started):
    lines = [
        "# Mutation check",
        "",
        f"Command: `{command}`  ",
        f"Date: {started:%Y-%m-%d %H:%M} UTC; machine: {platform.node() or '?'} ({os.cpu_count()} CPUs, {platform.platform()}), "
        f"Python {platform.python_version()}.",
        "",
        f"{sum(r['notebook_caught'] for r in results)} of {len(results)} mutants caught by the notebook that teaches the formula"
        + (f"; {sum(r.get('tests_caught', False) for r in results)} of {len(results)} by the library tests." if results and "tests_caught" in results[0] else "."),
        "",
        "| id | file | bug | notebook | caught by the notebook | caught by the tests |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        nb = pathlib.Path(r["taught_by"]).name.split("_")[0]
        caught_nb = ("yes: " + r["notebook_failure"].replace("|", "\\|")) if r["notebook_caught"] else f"**NO** (rc {r['notebook_rc']})"
        caught_t = "-" if "tests_caught" not in r else (("yes: " + r["tests_failure"].replace("|", "\\|")) if r["tests_caught"] else "no")
        lines.append(f"| {r['id']} | {r['file']} | {r['why']} | {nb} | {caught_nb} | {caught_t} |")
    return "\n".join(lines) + "\n"


def _print_result(i, total, m, r):
    verdict = "caught" if r["notebook_caught"] else "ESCAPED"
    extra = f"; tests: {'caught' if r.get('tests_caught') else 'not caught'}" if "tests_caught" in r else ""
    print(f"[{i}/{total}] {m['id']}: notebook {verdict} ({r['notebook_s']} s){extra}", flush=True)
    if r["notebook_caught"]:
        print(f"    {r['notebook_failure']}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--catalogue", action="append", help="catalogue file(s); default: all tests/mutation/catalogue_*.py")
    p.add_argument("--only", action="append", help="mutant id(s) to run")
    p.add_argument("--no-tests", action="store_true", help="run only the teaching notebook, not the library tests")
    p.add_argument("--report", default=None, help="write the Markdown report here")
    p.add_argument("--timeout", type=int, default=600)
    p.add_argument("--jobs", type=int, default=1, help="mutants run at the same time (each in its own copy)")
    args = p.parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    mutants = load_catalogues(args.catalogue)
    if args.only:
        unknown = set(args.only) - {m["id"] for m in mutants}
        if unknown:
            p.error(f"unknown mutant id(s): {sorted(unknown)}")
        mutants = [m for m in mutants if m["id"] in args.only]
    for m in mutants:
        check_applies(m)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:      # each mutant: its own copy, its own pytest
        futures = [pool.submit(run_mutant, m, not args.no_tests, args.timeout) for m in mutants]
        results = []
        for i, (m, f) in enumerate(zip(mutants, futures), 1):
            r = f.result()
            results.append(r)
            _print_result(i, len(mutants), m, r)
    text = report(results, "python -m tests.mutation.run " + " ".join(argv if argv is not None else sys.argv[1:]), started)
    if args.report:
        pathlib.Path(args.report).write_text(text, encoding="utf-8")
        print(f"report: {args.report}")
    escaped = [r["id"] for r in results if not r["notebook_caught"]]
    print(f"{len(results) - len(escaped)} of {len(results)} mutants caught by their notebook" + (f"; escaped: {escaped}" if escaped else ""))
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
