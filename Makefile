# The two commands of the README. Both create .venv on first use and reuse it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_TEST := $(VENV)/.installed-test
STAMP_DOCS := $(VENV)/.installed-docs
# Tests are small; two workers match the two cores CI has, each with one BLAS
# thread (two workers of two threads each on two cores slow both down). Tests
# in one xdist_group run on one worker (the examples that share a corpus).
PYTEST_ARGS ?= -n 2 --dist loadgroup
TEST_ENV := SCIPY_ARRAY_API=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

.PHONY: demo test lint bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# After installing, compile librosa's Numba kernels once, in one process:
# processes that compile them at the same time can corrupt their disk cache.
WARM_UP := $(PY) -c "from skmv.features.audio import _warm_up; _warm_up()"

$(STAMP_DEMO): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[demo]"
	$(WARM_UP)
	touch $@

$(STAMP_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	$(WARM_UP)
	touch $@ $(STAMP_DEMO)

# skmv demo: generate music videos, run the method and its baselines, print
# results tables, write PNG plots and report.html (tables, plots, example
# queries to see and hear); corpus and features are cached for a second run. Options, as in
# make demo DEMO_ARGS="--quick": see .venv/bin/skmv demo --help.
demo: $(STAMP_DEMO)
	$(VENV)/bin/skmv demo $(DEMO_ARGS)

test: $(STAMP_TEST)
	$(PY) -m ruff check skmv tests benchmarks examples
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS) skmv tests

$(STAMP_DOCS): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[docs]"
	$(WARM_UP)
	touch $@

# The HTML documentation in docs/_build/html; the gallery runs every example
# (SKMV_EXAMPLES_QUICK=1 runs the corpus examples on 60 clips, and
# SKMV_DOCS_OFFLINE=1 skips the intersphinx inventories).
docs: $(STAMP_DOCS)
	$(MAKE) -C docs html SPHINXBUILD=$(abspath $(VENV))/bin/sphinx-build

lint: $(STAMP_TEST)
	$(PY) -m ruff check skmv tests benchmarks examples

bench: $(STAMP_DEMO)
	$(PY) benchmarks/bench_rbm.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .skmv_data
