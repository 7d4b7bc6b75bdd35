# quantbot: `make run` and `make test` work on a fresh machine with Python 3.11 and make.
# Python 3.11: python3.11 on PATH, else python3 (checked to be 3.11 before the venv is made).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null || echo python3.11)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: install run test lint bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || \
		{ echo "quantbot needs Python 3.11; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the package definition changes (idempotent).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

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

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info runtime/bench
