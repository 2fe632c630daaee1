# Two commands do everything (see README):
#   make course   build every student release, grade the demo class, print the grade table
#   make test     run the test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# nbgrader runs alembic from the venv when it creates the gradebook: the venv's bin must be on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export MPLBACKEND := Agg

.PHONY: course test releases demo grade bench clean help student

help:
	@echo "make course   create .venv, build releases, grade the demo class, print the grade table"
	@echo "make test     create .venv if needed and run the test suite"
	@echo "make bench    benchmark the layer library against PyTorch (separate venv)"
	@echo "make student  JupyterLab as a student sees it, on student/ (copies of the releases; nothing overwritten)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-dask.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@# rfc3987-syntax (pulled in by jsonschema's format-nongpl extra, for an "iri" format no Jupyter schema uses)
	@# builds ~35 parsers at import: 1.5-1.8 s in every nbgrader, nbconvert and Jupyter process (nbgrader --version
	@# 3.4 -> 1.6 s; the test suite 292 -> 252 s). jsonschema skips that format checker when it is absent.
	$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" > /dev/null
	touch $@

course: $(VENV)/.installed
	$(BIN)/python -m tools.course all

releases: $(VENV)/.installed
	$(BIN)/python -m tools.course release

demo: $(VENV)/.installed
	$(BIN)/python -m tools.course demo

grade: $(VENV)/.installed
	$(BIN)/python -m tools.course grade

# Three pytest workers on a 2-core machine: the class gradings wait on sandboxed processes about a third of the
# time, and a third worker fills it (the whole suite, quiet: 278 s with -n 2, 260 s with -n 3, same tree).
test: $(VENV)/.installed
	$(BIN)/python -m pytest -q -n 3 --dist loadgroup --durations=15 tests

# A student's JupyterLab on student/ (git-ignored): copies of release/<id>/, where a file the student already has is
# never overwritten, and nbgrader's student tools only (student-config/). Arguments: python -m tools.student --help.
student: $(VENV)/.installed
	$(BIN)/python -m tools.student

bench:
	test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet -r benchmarks/requirements-bench.txt
	.venv-bench/bin/python benchmarks/bench_recurrent.py

clean:
	rm -rf submitted autograded feedback gradebook.db grades.csv grading_reports source/*/utils source/*/data
