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

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check quantbot tests bench
	$(BIN)/ruff format --check quantbot tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.pipeline_bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info runtime/bench
