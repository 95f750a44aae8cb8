# pixelforge: `make test` and `make demo` are the two commands a newcomer needs. On a fresh Debian
# machine they install everything themselves: the Debian packages the tests drive (as root), then
# the virtual environment.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# command -> Debian package, for the real servers and tools the tests start
SYSTEM_DEPS := redis-server:redis-server chromium:chromium ffmpeg:ffmpeg

.PHONY: model ship-model system-deps venv test lint imports docs bench demo clean

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

# The shipped model, reproducible: curate the shared corpus, train with the recipes in turn, measure, ship.
# `make model` trains each recipe of RECIPES into the run folder its file names (`output`), starting from what
# its `init_from` names; a run that exists is resumed. The shipped v74 is three 40-minute CPU stages (71, 72, 74;
# `time_limit`) from the released v64 generator kept in training/recipes/weights/. v64 itself, three annealed
# one-epoch CPU stages (61, 62, 64) from v53's kept weights: `make model RECIPES="$(V64_RECIPES)"
# MODEL_RUN=runs/cpu-native-v64 SHIPPED_INPUT=dark-cells SHIPPED_KEEP=`. v53 itself, one GPU stage from v36 (4.4 minutes on an H200; an estimated 1.5 hours on 2 CPU cores with
# TRAIN_ARGS="--device cpu"): `make model RECIPES="$(V53_RECIPES)" MODEL_RUN=runs/gpu-native-v53`; v36, two
# one-epoch CPU stages: `make model RECIPES="$(V36_RECIPES)" MODEL_RUN=runs/cpu-native-v36`; v20 from v7's kept
# weights (six stages): `make model RECIPES="$(V20_RECIPES)" MODEL_RUN=runs/cpu-native-v20`; v7 from random
# weights (about 4.5 hours): `make model RECIPES="$(V7_RECIPES)"`. The full-size GPU model from random weights
# (stages 51-52, 9 minutes on an H200): `make model RECIPES="$(GPU_FULL_RECIPES)" MODEL_RUN=runs/gpu-native-v52`.
# `make ship-model` copies MODEL_RUN into the package as fp16 and measures that file for its card (what a Hub repo would hold).
CORPUS ?= ../shared/corpus
V7_RECIPES := $(addprefix training/recipes/,cpu-native.toml cpu-native-v2.toml cpu-native-v3.toml cpu-native-v4.toml cpu-native-v5.toml cpu-native-v7.toml)
V20_RECIPES := $(addprefix training/recipes/,cpu-native-v14.toml cpu-native-v15.toml cpu-native-v16.toml cpu-native-v18.toml cpu-native-v19.toml cpu-native-v20.toml)
V36_RECIPES := $(addprefix training/recipes/,cpu-native-v33.toml cpu-native-v36.toml)
GPU_FULL_RECIPES := $(addprefix training/recipes/,gpu-native.toml gpu-native-v52.toml)
V53_RECIPES := training/recipes/gpu-native-v53.toml
V64_RECIPES := $(addprefix training/recipes/,cpu-native-v61.toml cpu-native-v62.toml cpu-native-v64.toml)
RECIPES ?= $(addprefix training/recipes/,cpu-native-v71.toml cpu-native-v72.toml cpu-native-v74.toml cpu-native-v80.toml)
TRAIN_ARGS ?=
MODEL_RUN ?= runs/cpu-native-v80
SHIPPED_NAME ?= pixelforge-native-v80
# the generator resolution and the anchoring the shipped model runs with (measured: docs/model-log.md), recorded in its G_A
SHIPPED_PPC ?= 2
SHIPPED_ANCHOR_WITHIN ?= 10
# the input it is shown (classic-thin-cells: the classic-line-cells it was trained on last, less the highlight cells
# beside a dark line cell) and the kept features, measured: docs/model-log.md
SHIPPED_INPUT ?= classic-thin-cells
SHIPPED_KEEP ?= --keep-features
SHIPPED ?= inference/models/$(SHIPPED_NAME)
model: $(STAMP)
	$(PY) -m curation run --input $(CORPUS)/cartoons --output data/cartoons --domain A --set 'split.holdout_prefixes=["0"]'
	$(PY) -m curation run --input $(CORPUS)/pixel-art --output data/pixel-art
	@for recipe in $(RECIPES); do \
		run=$$($(PY) -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["output"])' $$recipe) || exit 1; \
		if [ -f $$run/config.json ]; then cmd="$(PY) -m training --resume $$run $(TRAIN_ARGS)"; else cmd="$(PY) -m training --config $$recipe $(TRAIN_ARGS)"; fi; \
		echo "$$cmd"; $$cmd || exit 1; \
	done

PUBLISH = $(PY) -m training publish $(MODEL_RUN) --repo pixelforge/$(SHIPPED_NAME) --dry-run --fp16 --no-g-b --pixels-per-cell $(SHIPPED_PPC) --anchor-within $(SHIPPED_ANCHOR_WITHIN) --model-input $(SHIPPED_INPUT) $(SHIPPED_KEEP) --stage $(SHIPPED)
# The card's numbers are the fp16 file's, as pixelate --shipped runs it: staged first, measured, staged again with them
# (fp16 rounding moves cells by under 1 ΔE2000, but that can tip a palette fit: 0.03 ΔE2000 on the ten cartoons).
ship-model: $(STAMP)
	rm -rf $(SHIPPED)
	$(PUBLISH)
	$(PY) benchmarks/quality.py --checkpoint $(SHIPPED) --pixels-per-cell $(SHIPPED_PPC) --anchor-within $(SHIPPED_ANCHOR_WITHIN) --model-input $(SHIPPED_INPUT) $(SHIPPED_KEEP) --only "classical (new)" model "model, picture palette" "model, lines held" "model, own colours" "untrained net" --metrics $(MODEL_RUN)/metrics.json --out benchmarks/out/quality-model
	rm -rf $(SHIPPED)
	$(PUBLISH)

clean:
	rm -rf build site *.egg-info .pytest_cache .ruff_cache
