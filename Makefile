# quantbot: `make run` and `make test` work on a fresh machine with Python 3.11 or newer and make.
# The newest of python3.13, python3.12, python3.11 on PATH, else python3 (checked to be 3.11 or
# newer before the venv is made). PYTHON=/path/to/python3.x picks another.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { command -v $$p; break; }; done)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: install run test lint bench clean

$(BIN)/python:
	@test -n "$(PYTHON)" && $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		2>/dev/null || { echo "quantbot needs Python 3.11 or newer (none of python3.13, \
	python3.12, python3.11, python3 on PATH is); set PYTHON=/path/to/python3"; exit 1; }
	@echo "creating $(VENV) with $(PYTHON) ($$($(PYTHON) -c 'import platform; \
	print(platform.python_version())'))"
	@$(PYTHON) -m venv $(VENV)
	@echo "upgrading pip in $(VENV)"
	@$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the package definition changes (idempotent).
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "installing quantbot and its dependencies into $(VENV) (about a minute)"
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)
	@echo "installed: $$($(BIN)/quantbot --version) in $(VENV)"

install: $(STAMP)

run: $(STAMP)
	$(BIN)/quantbot run --execution-mode paper $(ARGS)

# Both cores: most of the suite waits on subprocess daemons and loopback venues, not the CPU.
PYTEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check quantbot tests bench
	$(BIN)/ruff format --check quantbot tests bench

# The replay bench compares with backtrader and backtesting.py (the optional `bench` extra);
# without them (offline) it still runs and reports those comparisons as skipped.
# Quick run: make bench BENCH_ARGS="--bars 300000 --repeat 1".
bench: $(STAMP)
	@$(BIN)/python -c 'import backtrader, backtesting' 2>/dev/null || \
		$(BIN)/python -m pip install --quiet -e '.[bench]' || \
		echo "bench extra not installed: the engine comparisons will be reported as skipped"
	$(BIN)/python -m bench.pipeline_bench
	$(BIN)/python -m bench.replay_bench $(BENCH_ARGS)
	$(BIN)/python -m bench.replay_cli_bench
	$(BIN)/python -m bench.walk_forward_bench
	$(BIN)/python -m bench.startup_bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info runtime/bench
