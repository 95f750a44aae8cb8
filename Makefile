# pixelforge: `make test` and `make demo` are the two commands a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv test lint docs bench demo clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,rembg]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The documentation site (docs/, mkdocs.yml) into site/. --strict: a broken link, a missing page or a
# reference generator that cannot import its parser fails the build. Works offline.
# NO_MKDOCS_2_WARNING silences Material's end-of-life banner (9.x is maintained until May 2027).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

# pytest exits 5 when it collects nothing, so an empty run fails the build.
test: lint docs
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/run_all.py

# The whole pipeline on the bundled sample; DEMO_FAST=1 is the reduced mode the tests run.
demo: $(STAMP)
	$(PY) -m tests.support.demo $(if $(filter 1,$(DEMO_FAST)),--fast,)

clean:
	rm -rf build site *.egg-info .pytest_cache .ruff_cache
