# Two commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all install demo test check bench clean

all: install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[demo]'
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.demo

install: $(VENV)/.demo

## demo: the end-to-end loop on the 2013 New York City flights (writes ./demo-output)
demo: $(VENV)/.demo
	$(BIN)/python examples/flights_demo.py --project demo-output

## test: the whole test suite (PostgreSQL and Redis tests skip when absent, unless
## WEEKEND_REQUIRE_SERVICES=1)
test: $(VENV)/.dev
	$(BIN)/python -m pytest -q -p no:cacheprovider

## check: lint, format, strict typing (src, bench; tests non-strict), and the import contracts of
## docs/design.md
check: $(VENV)/.dev
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	$(BIN)/mypy --config-file tests/mypy.ini tests
	$(BIN)/lint-imports

## bench: every benchmark (creates the peers' own virtual environments under bench/.venvs)
bench: $(VENV)/.dev
	$(BIN)/python bench/tracking.py
	$(BIN)/python bench/registry.py
	$(BIN)/python bench/predict_batch.py
	$(BIN)/python bench/datasets.py
	$(BIN)/python bench/features.py
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/pipelines.py
	$(BIN)/python bench/monitor_scale.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
