# Two commands for a new user: `make run` builds the warehouse on the bundled sample (DuckDB),
# `make test` runs the whole test suite. Both set themselves up (virtualenv, install, dbt parse).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: run test dev bench generate clean install

install: $(INSTALLED)

# Reinstall only when the dependency pins change.
$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

$(DAGSTER_HOME):
	@mkdir -p $@

## Build the whole warehouse end to end on the bundled sample (or $WAREHOUSE_LANDING_DIR).
## FULL_REFRESH=1 rebuilds the incremental models from every landed row.
run: $(INSTALLED) $(DAGSTER_HOME)
	$(BIN)/python -m orchestration.run $(if $(FULL_REFRESH),--full-refresh)

## Run every test (DuckDB always; PostgreSQL when reachable, required under CI=true).
test: $(INSTALLED)
	$(BIN)/python -m orchestration.run --parse-only
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Open the Dagster UI on the same graph (http://127.0.0.1:3000).
dev: $(INSTALLED) $(DAGSTER_HOME)
	$(BIN)/python -m orchestration.run --parse-only
	$(BIN)/dagster dev -m orchestration.definitions

## Benchmark a from-scratch build, a one-day nightly run and a no-op run (default 100,000 customers).
SCALE ?= 100000
bench: $(INSTALLED)
	$(BIN)/python -m orchestration.bench --customers $(SCALE) $(BENCH_ARGS)

## Regenerate the committed sample in seeds/.
generate: $(INSTALLED)
	$(BIN)/python -m orchestration.generate --out seeds --customers 500 --start 2024-01-01 --months 24 --dirty-rate 0.01 --seed 42

clean:
	rm -rf .warehouse .dagster_home dbt_project/target dbt_project/logs
