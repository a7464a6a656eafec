# The project's two commands: `make demo` and `make test`. Both do all set-up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: demo test system-deps lint typecheck docs unit wheel-smoke airflow-test bench clean

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
	$(BIN)/ruff check src tests benchmarks scripts examples docs/hooks.py
	$(BIN)/ruff format --check src tests benchmarks scripts examples docs/hooks.py
	$(BIN)/lint-imports --no-cache
	$(PY) scripts/build_grafana_dashboard.py --check

typecheck: $(VENV)/.stamp-dev
	$(BIN)/mypy

# The docs site, strictly: a broken reference or a missing page fails the build.
docs: $(VENV)/.stamp-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

unit: $(VENV)/.stamp-dev
	$(BIN)/pytest --ignore=tests/integrations/test_airflow.py --ignore=tests/examples/test_example_airflow.py

# The wheel and sdist, installed into clean virtualenvs (no source tree), each extra alone.
wheel-smoke: $(VENV)/.stamp-dev
	$(PY) scripts/wheel_smoke.py

# Airflow 3.3 caps FastAPI below what the dev extra installs, so its tests (dag.test() for real)
# run in a virtualenv of their own, with lowcarb[airflow] and pytest only.
AIRFLOW_VENV := .venv-airflow
$(AIRFLOW_VENV)/.stamp: pyproject.toml
	test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install -q --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install -q -e '.[airflow]' 'pytest>=8' 'pytest-timeout>=2.2'
	touch $@

airflow-test: $(AIRFLOW_VENV)/.stamp
	LOWCARB_REQUIRE_AIRFLOW=1 $(AIRFLOW_VENV)/bin/pytest tests/integrations/test_airflow.py tests/examples/test_example_airflow.py

# Prometheus, Chromium, curl and sqlite3 from apt-get when missing (as root); see the script.
system-deps:
	bash scripts/system_deps.sh

# Exit status 5 (no tests collected) fails like any other non-zero status.
test: system-deps lint typecheck docs unit wheel-smoke airflow-test

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) .pytest_cache .mypy_cache .ruff_cache
