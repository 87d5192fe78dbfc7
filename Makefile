# The two commands a newcomer runs: `make demo` and `make test`.
# Each creates .venv and installs what it needs; nothing is installed by hand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test bench clean prometheus valgrind

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

# The real Prometheus and promtool the dashboard and alert tests run (Debian package; tests start it on loopback).
prometheus:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

# valgrind counts instructions for benchmarks/overhead_instructions.py (and its test).
valgrind:
	@command -v valgrind >/dev/null || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends valgrind >/dev/null; }

test: $(BIN)/.installed prometheus valgrind
	$(BIN)/ruff check otel_ai_cost tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(BIN)/.installed valgrind
	$(BIN)/python benchmarks/pricing_bench.py
	$(BIN)/python benchmarks/overhead_bench.py
	$(BIN)/python benchmarks/overhead_instructions.py

clean:
	rm -rf $(VENV) .pytest_cache
