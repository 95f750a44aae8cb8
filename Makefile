# pixelforge: `make test` and `make demo` are the two commands a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv test lint browser bench demo clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,rembg]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The web app's page test drives Debian's chromium: Playwright cannot download a browser of its own here.
browser:
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)

# pytest exits 5 when it collects nothing, so an empty run fails the build.
test: lint browser
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/run_all.py

# The whole pipeline on the bundled sample; DEMO_FAST=1 is the reduced mode the tests run.
demo: $(STAMP)
	$(PY) -m tests.support.demo $(if $(filter 1,$(DEMO_FAST)),--fast,)

clean:
	rm -rf build *.egg-info .pytest_cache .ruff_cache
