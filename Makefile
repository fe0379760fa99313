# Every target builds or reuses .venv itself, so any of them works as the first command.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install test test-integration bench bench-scale bench-proxy bench-service run chaos lint format clean infra

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "authscale needs Python >= 3.11, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# The tests that talk to Postgres and Redis, e.g. against your own servers:
#   DATABASE_URL=postgresql://... REDIS_URL=redis://... make test-integration
test-integration: $(STAMP)
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m lab bench $(BENCH_ARGS)

bench-scale: $(STAMP)
	$(PY) -m lab bench-scale $(BENCH_ARGS)

bench-proxy: $(STAMP)
	$(PY) -m lab bench-proxy $(PROXY_ARGS)

bench-service: $(STAMP)
	$(PY) -m lab bench-service $(SERVICE_ARGS)

run: $(STAMP)
	$(PY) -m lab up --instances 3 --balancer

chaos: $(STAMP)
	$(PY) -m lab chaos $(CHAOS_ARGS)

infra: $(STAMP)
	$(PY) -m lab infra up

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	-test -x $(PY) && $(PY) -m lab infra down
	rm -rf .lab reports .mypy_cache .ruff_cache .pytest_cache build *.egg-info
	rm -rf $(VENV)
