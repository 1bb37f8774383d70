# prunebook: `make book` builds the website, `make test` is the CI gate (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.prunebook-installed
LOCK := requirements/lock.txt
# unit tests run in this many processes (pytest-xdist; "auto": one per core, 0: in-process);
# a worker that finishes its share steals tests from the other, so one slow file cannot hold
# the rest back
TEST_WORKERS ?= auto
# notebooks executed at once, each in its own kernel (make book, make ci-notebooks)
NOTEBOOK_JOBS ?= 2
NBVAL := --nbval-lax --nbval-sanitize-with notebooks/sanitize.cfg --nbval-current-env

.PHONY: help install book notebooks claims site test lint unit nbval ci-notebooks clean \
	sweep offline-sweep package-check

help:
	@echo "make book   execute every notebook (papermill, default parameters, in place),"
	@echo "            regenerate the claims table and build the site in _build/html"
	@echo "make test   ruff, unit tests, the packaging check, nbval on the stored outputs, every"
	@echo "            notebook at preset=ci"
	@echo "make package-check   build the wheel, install it without extras in a fresh venv,"
	@echo "            run the quick-start there (newest and oldest allowed versions)"
	@echo "make lint   ruff only;  make clean   remove _build"
	@echo "make sweep  run/resume the chapters' online sweep (hours; resumable; results/)"
	@echo "make offline-sweep   the same for chapter 4's offline sweep"

# The virtual environment, (re)installed when pyproject.toml or the lock changes: the book's
# exact versions come from the lock (pip constraints), the package's ranges from pyproject.
install: $(STAMP)
# `cluster` (Ray) is installed too so that the Ray executor's tests run in CI.
$(STAMP): pyproject.toml $(LOCK) Makefile
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -c $(LOCK) -e ".[book,test,cluster]"
	touch $@

book: notebooks claims site
	@echo "Front page: $(CURDIR)/_build/html/book/intro.html"

notebooks: $(STAMP)
	$(PY) scripts/run_notebooks.py --in-place --jobs $(NOTEBOOK_JOBS)

# The front page's claims figure and table and its downloads (book/_generated/data/), and the
# performance page's cost tables, from results/.
claims: $(STAMP)
	$(PY) -m prunebook.book.frontpage book/_generated
	for sweep in $$($(PY) -c "from prunebook.sweeps.registry import BOOK_SWEEPS; print(*BOOK_SWEEPS)"); do \
		$(BIN)/prunebook status --sweep $$sweep --markdown book/_generated/cost_$$sweep.md \
			> /dev/null; done

site: $(STAMP)
	$(BIN)/jupyter-book build --all -W -n --keep-going .

test: lint unit package-check nbval ci-notebooks

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal --durations=15 tests

# Re-executes each notebook at its defaults; cells tagged nbval-check-output must reproduce
# their stored outputs (after notebooks/sanitize.cfg), the others must only run. One kernel per
# test process; loadscope keeps a notebook's cells together, in order, in one kernel.
nbval: $(STAMP)
	$(BIN)/pytest $(NBVAL) -n $(TEST_WORKERS) --dist loadscope notebooks/

# `pip install prunebook` as a user gets it: the wheel alone, no extras, in a fresh venv (pip's
# cache makes reruns fast); scripts/quickstart.py must run there, with the newest versions the
# ranges allow and with the oldest (every lower bound in pyproject.toml pinned).
package-check: $(STAMP)
	$(PY) scripts/package_check.py
	$(PY) scripts/package_check.py --lowest

ci-notebooks: $(STAMP)
	tmp=$$(mktemp -d) && $(PY) scripts/run_notebooks.py --output-dir "$$tmp" -p preset ci \
		--jobs $(NOTEBOOK_JOBS) \
		&& rm -rf "$$tmp"

# Long, resumable experiment sweeps: rerun to resume; checkpoints live in ~/.cache/prunebook.
sweep: $(STAMP)
	$(BIN)/prunebook run --sweep online_cpu

offline-sweep: $(STAMP)
	$(BIN)/prunebook run --sweep offline_cpu

clean:
	rm -rf _build build dist
