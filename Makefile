# make train: prepare -> train -> evaluate the default recipe on the embedded corpus.
# make test:  the test suite (offline).
# make cv:    5-fold cross-validation (kpt-train -m, kpt-cv-report) -> docs/results/<option>.json, docs/results.md.
# Both install what they need into .venv first (CPU torch from this machine's disk or PyPI).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
# Elsewhere, point pip at a CPU wheel index, e.g. TORCH_PIP_ARGS="--index-url <cpu wheel index>".
TORCH_PIP_ARGS ?=
# Simply expanded: one stamp for both commands of a make train.
RUN_STAMP := $(shell date +%Y-%m-%d_%H-%M-%S)
RUN_DIR ?= outputs/default/$(RUN_STAMP)

# Options of scripts/ablation.py to cross-validate (make cv CV_OPTIONS="default no_rescore").
CV_OPTIONS ?= default

.PHONY: install train prepare test test-fast cv benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# CPU build first: a bare torch requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/pip install -e ".[dev]"
	touch $@

prepare: install
	$(BIN)/kpt-prepare

train: prepare
	$(BIN)/kpt-train output_dir=$(RUN_DIR)
	$(BIN)/kpt-evaluate checkpoint=$(RUN_DIR)/model split=test output_dir=$(RUN_DIR)/evaluation_test

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

cv: prepare
	$(BIN)/python scripts/ablation.py --only $(CV_OPTIONS)

benchmark: install
	$(BIN)/python benchmarks/bench_inference.py
	$(BIN)/python benchmarks/bench_decision.py
	$(BIN)/python benchmarks/bench_flops.py
	$(BIN)/python benchmarks/bench_prepare.py
	$(BIN)/python benchmarks/bench_memory.py

clean:
	rm -rf outputs multirun data/processed .pytest_cache
