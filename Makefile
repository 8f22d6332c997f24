# Two commands a newcomer needs:  `make run`  and  `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
BENCH_STAMP := $(VENV)/.bench-installed-$(shell sha1sum pyproject.toml | cut -c1-12)
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: setup run test lint typecheck unit eval bench clean-index

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# The CPU build of torch lies on this machine's disk; any other torch spec would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

## Set up, index seeds/ when the index is empty, and start the assistant.
run: setup
	$(PY) app.py

## Set up and run the checks: lint, types, then the whole test suite.
test: setup lint typecheck
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check qa tests app.py benchmarks evals
	$(VENV)/bin/ruff format --check qa tests app.py benchmarks evals

typecheck: setup
	$(VENV)/bin/mypy

# What the default path (auto mode: quoted evidence with the bundled model) holds today on the seed set
# (evals/README.md), a little below the measured figures; CI fails under them. Raise them with the figures.
EVAL_GATE = --min-accuracy 0.56 --min-overall 0.56 --min-refusal-precision 0.42 --min-refusal-recall 0.54 \
	--min-citation-precision 0.76 --min-citation-recall 0.68 --min-hit 0.95 --min-mrr 0.85 \
	--min-number-faithfulness 1.0

## Set up and run the seed eval set with the bundled model; fails below EVAL_GATE.
eval: setup
	$(VENV)/bin/qa eval --backend embedded --report evals/reports/seeds $(EVAL_GATE)

unit: setup
	$(PY) -m pytest -m unit

## Run the benchmark suite of issue 6 (about 15 minutes on 2 cores) and write benchmarks/RESULTS.md.
## Needs ../shared/benchmarks/realtimeqa-2024h1 and its built index; BENCH_ARGS=--quick for a smoke run.
bench: $(BENCH_STAMP)
	$(PY) benchmarks/run.py $(BENCH_ARGS)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

clean-index:
	find index -mindepth 1 ! -name README.md -exec rm -rf {} +
