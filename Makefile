# Every target builds or reuses the virtual environment itself, so any of them works as the
# first command. PYTHON picks the interpreter (3.11-3.14), e.g.
#   make test PYTHON=$(pyenv prefix 3.13.0)/bin/python3
# The environment is made anew when PYTHON names another version than the one it holds.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
LOCK   := constraints.txt
PYVER  := $(shell $(PYTHON) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)
STAMP  := $(VENV)/.installed-$(PYVER)
# The balancer's request path compiled for this Python, kept in step with its sources.
READY  := $(VENV)/.compiled-$(PYVER)
PYTEST_ARGS ?=

.PHONY: install lock test test-integration bench bench-scale bench-proxy bench-service run chaos lint format clean infra resolve-matrix

$(STAMP): setup.cfg pyproject.toml $(LOCK)
	@test -n "$(PYVER)" || { echo "no Python at PYTHON=$(PYTHON)"; exit 1; }
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "authscale needs Python >= 3.11, found " + sys.version.split()[0]'
	@if [ -x $(PY) ] && [ "$$($(PY) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')" != "$(PYVER)" ]; then \
		echo "$(VENV) holds another Python than $(PYVER): making it anew"; rm -rf $(VENV); fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint $(LOCK) -e '.[lab,otel,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

# A compiled module shadows its source: after an edit (or a checkout) the request path is
# compiled again before anything runs it. AUTHSCALE_COMPILE=0 keeps it pure Python.
$(READY): $(STAMP) setup.py $(wildcard balancer/*.py)
	@$(PY) -c 'import sys; sys.path.insert(0, "balancer"); import _build; sys.exit(not _build.up_to_date())' \
		|| $(PY) setup.py --quiet build_ext --inplace
	@rm -f $(VENV)/.compiled-*
	@touch $(READY)

install: $(READY)

# The constraints every install uses: one version of each package for Python 3.11-3.14 on
# Linux and macOS (a universal resolution), so figures can be reproduced.
# uv comes from a small environment of its own, so a lock that no longer fits setup.cfg
# does not stand in the way of making the next one.
lock:
	test -x .venv-lock/bin/uv || { $(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet uv; }
	.venv-lock/bin/uv pip compile setup.cfg --extra lab --extra dev --extra otel --universal \
		--python-version 3.11 --quiet --output-file $(LOCK) \
		--custom-compile-command 'make lock'

test: $(READY)
	$(PY) -m pytest $(PYTEST_ARGS)

# The tests that talk to Postgres and Redis, e.g. against your own servers:
#   DATABASE_URL=postgresql://... REDIS_URL=redis://... make test-integration
test-integration: $(READY)
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

# Does `.[lab]` resolve from wheels for Python 3.12-3.14 on Linux x86-64/aarch64, macOS arm64?
resolve-matrix: $(READY)
	$(PY) -m lab.resolve

bench: $(READY)
	$(PY) -m lab bench $(BENCH_ARGS)

bench-scale: $(READY)
	$(PY) -m lab bench-scale $(BENCH_ARGS)

bench-proxy: $(READY)
	$(PY) -m lab bench-proxy $(PROXY_ARGS)

bench-service: $(READY)
	$(PY) -m lab bench-service $(SERVICE_ARGS)

run: $(READY)
	$(PY) -m lab up --instances 3 --balancer

chaos: $(READY)
	$(PY) -m lab chaos $(CHAOS_ARGS)

infra: $(READY)
	$(PY) -m lab infra up

lint: $(READY)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

format: $(READY)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	-test -x $(PY) && $(PY) -m lab infra down
	rm -rf .lab reports .mypy_cache .ruff_cache .pytest_cache build *.egg-info
	rm -rf $(VENV) .venv-lock
