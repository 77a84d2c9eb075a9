# linattn-edu: `make lab` to learn, `make test` to check everything. Both create .venv once.
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
# torch 2.13.0: on the course machines a CPU build from local disk; elsewhere override, e.g.
#   make test TORCH_SPEC="torch==2.5.1"   (any version in pyproject's range works)
TORCH_SPEC ?= torch==2.13.0
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
NBVAL   := --nbval-lax --nbval-current-env --nbval-cell-timeout=120
# One BLAS thread per process: on 2 shared cores, threaded BLAS oversubscribes and a small
# a @ b.T can run hundreds of times slower (measured under load). Exported to notebook kernels too.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: setup hooks lab test test-nbval test-browser test-fast test-seeds test-mutants student models bench bench-panels bench-panels-browser figures book browser-deps clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "linattn-edu needs Python >= 3.10, found " + sys.version' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test,book,kernels]"
	touch $(STAMP)

# Contributors, once per clone: the nbstripout git filter that .gitattributes names, so `git add` strips
# outputs, execution counts and widget state from a notebook (cell ids are kept: they are stable names).
# git config is not cloned, so CI checks the result instead (tests/test_repo.py).
NBSTRIPOUT := "$(abspath $(PY))" -m nbstripout --keep-id
hooks: setup
	git config filter.nbstripout.clean '$(NBSTRIPOUT)'
	git config filter.nbstripout.smudge cat
	git config filter.nbstripout.required true
	git config diff.ipynb.textconv '$(NBSTRIPOUT) -t'
	$(PY) -m nbstripout --is-installed && echo "nbstripout filter installed for this clone"

# A notebook saved under notebooks/ is written without outputs or widget state (linattn_edu/panels/_lab.py),
# so the tracked notebooks stay clean and reopen without "Error displaying widget".
LAB_HOOK := --ContentsManager.pre_save_hook=linattn_edu.panels._lab.strip_on_save
lab: setup
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) $(LAB_HOOK) notebooks/

# Debian's Chromium for the browser suite (tests/browser); never a downloaded browser build.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "WARNING: /usr/bin/chromium missing; run: sudo apt-get install -y chromium (tests/browser will fail)"; fi; \
	fi

# The whole suite in one pytest run, one worker per core; --dist loadfile keeps each file (each half of
# the browser suite has its own JupyterLab server and Chromium) on one worker. Every notebook is executed
# twice, and any error or failed assert in a cell fails the run: seed 0 by the browser suite (Run All in
# JupyterLab, tests/browser) and seed 1 by the site build (book/build.py inside tests/test_book.py).
# nbval would be a third execution of seed 0 (a sixth of the suite's time), so it runs here only when
# the browser suite cannot (LINATTN_SKIP_BROWSER=1); `make test-nbval` runs it on its own.
WORKERS ?= auto
SEED0 := $(if $(filter 1,$(LINATTN_SKIP_BROWSER)),notebooks $(NBVAL),)
test: setup browser-deps
	$(PY) -m pytest -n $(WORKERS) --dist loadfile tests $(SEED0) -rs --durations=15

# The notebooks under nbval (seed 0, each cell's error reported as its own test).
test-nbval: setup
	$(PY) -m pytest -n $(WORKERS) --dist loadfile notebooks $(NBVAL) -q -rs

# Browser suite alone (JupyterLab + headless Chromium); prints per-notebook timings.
test-browser: setup browser-deps
	$(PY) -m pytest tests/browser -m browser -s -rs

# Library tests only (seconds).
test-fast: setup
	$(PY) -m pytest tests --ignore=tests/browser -m "not notebooks" -q

# Every notebook under five base seeds (CI runs one extra seed, LINATTN_SEED=1, inside `make test`).
test-seeds: setup
	LINATTN_TEST_SEEDS="0 1 2 3 4" $(PY) -m pytest -n $(WORKERS) --dist loadfile tests/test_notebook_seeds_a.py tests/test_notebook_seeds_b.py -q -rs

# Formula-level mutants of the library (tests/mutation/catalogue_*.py), each applied to a temporary copy:
# which notebook assert and which test catch it. Too slow for CI (a notebook + the library tests per
# mutant); the last report is stored with its command and date, and CI checks it lists every mutant.
MUTANT_REPORT ?= benchmarks/results/mutants.md
# Notebooks only by default (~10 min, 2 jobs); MUTANT_FLAGS= also runs the library tests per mutant (hours).
MUTANT_FLAGS ?= --no-tests
test-mutants: setup
	$(PY) -m tests.mutation.run $(MUTANT_FLAGS) --jobs 2 --report $(MUTANT_REPORT)

# Retrain notebook 11's byte-level model (models/stdlib_lm: weights, stored validation slice, meta.json).
models: setup
	$(PY) -m benchmarks.train_lm

# Student copies of the notebooks (solution cells removed, checkers kept) in student/.
student: setup
	$(PY) -m linattn_edu.exercises.student --out student

bench: setup
	$(PY) -m benchmarks.speed --device cpu

# Slider latency: server side (compute + draw/blit + PNG, benchmarks/results/panels-<host>.json), then in
# the browser (input event -> picture decoded, panels-browser-<host>.json).
bench-panels: setup
	$(PY) -m benchmarks.panels
	$(MAKE) bench-panels-browser

# Slider latency in the browser (input event -> new picture), five moves per control; prints per-panel
# median / p95. Add LINATTN_LATENCY_STRICT=1 to fail above issue #16's targets.
HOST := $(shell hostname 2>/dev/null || echo local)
bench-panels-browser: setup browser-deps
	LINATTN_LATENCY_MOVES=4 LINATTN_LATENCY_OUT=benchmarks/results/panels-browser-$(HOST).json \
	  $(PY) -m pytest tests/browser -m browser -s -rs

figures: setup
	MPLBACKEND=Agg $(PY) figures/make_figures.py --out figures

# The course site in _build/html: Sphinx + myst-nb + sphinx-book-theme (book/conf.py), nothing fetched.
# book/build.py executes every notebook with LINATTN_SEED=1, two at a time, and fails on a cell error
# (executed copies cached in _build/executed); sphinx-build -W fails on any warning. Drafting the text:
# `$(PY) book/build.py --no-execute` (pages without outputs, in a minute).
book: setup
	$(PY) book/build.py --out _build/html

clean:
	rm -rf $(VENV) _build .pytest_cache
