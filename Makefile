# The project's two commands: `make demo` and `make test`. Both do all set-up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: demo test lint typecheck unit bench clean

# The stamp files re-install whenever pyproject.toml changes.
$(VENV)/.stamp-base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[demo]'
	touch $@

$(VENV)/.stamp-dev: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.stamp-base

demo: $(VENV)/.stamp-base
	$(PY) examples/demo.py

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check src tests benchmarks scripts examples
	$(BIN)/ruff format --check src tests benchmarks scripts examples
	$(BIN)/lint-imports --no-cache
	$(PY) scripts/build_grafana_dashboard.py --check

typecheck: $(VENV)/.stamp-dev
	$(BIN)/mypy

unit: $(VENV)/.stamp-dev
	$(BIN)/pytest

# Exit status 5 (no tests collected) fails like any other non-zero status.
test: lint typecheck unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
