# pixelforge: `make test` and `make demo` are the two commands a newcomer needs. On a fresh Debian
# machine they install everything themselves: the Debian packages the tests drive (as root), then
# the virtual environment.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# command -> Debian package, for the real servers and tools the tests start
SYSTEM_DEPS := redis-server:redis-server chromium:chromium ffmpeg:ffmpeg

.PHONY: system-deps venv test lint imports docs bench demo clean

# Installs only what is missing; needs root (apt-get) only then, and says so otherwise.
system-deps:
	@missing=""; \
	for pair in $(SYSTEM_DEPS); do command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make: missing Debian packages:$$missing. Install them with: sudo apt-get install$$missing" >&2; \
			exit 1; \
		fi; \
		echo "make: installing Debian packages:$$missing"; \
		log=$${TMPDIR:-/tmp}/pixelforge-apt.log; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; } \
			>"$$log" 2>&1 || { cat "$$log" >&2; echo "make: apt-get failed (log: $$log)" >&2; exit 1; }; \
	fi

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,rembg]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# the architecture: stages independent, all on the kernel, no import cycles (pyproject.toml)
imports: $(STAMP)
	$(VENV)/bin/lint-imports

# The documentation site (docs/, mkdocs.yml) into site/. --strict: a broken link, a missing page or a
# reference generator that cannot import its parser fails the build. Works offline.
# NO_MKDOCS_2_WARNING silences Material's end-of-life banner (9.x is maintained until May 2027).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

# pytest exits 5 when it collects nothing, so an empty run fails the build.
test: system-deps lint imports docs
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/run_all.py

# The whole pipeline on the bundled sample; DEMO_FAST=1 is the reduced mode the tests run.
demo: system-deps $(STAMP)
	$(PY) -m pixelforge.demo $(if $(filter 1,$(DEMO_FAST)),--fast,)

clean:
	rm -rf build site *.egg-info .pytest_cache .ruff_cache
