# The README's two commands: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint lab install clean

# A stamp per extra, so `make demo` needs only the runtime dependencies (a plain `pip install -e .`).
$(VENV)/.runtime: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "healthcheck needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.runtime

## Generate the demo fleet and render one demo customer's latest quarterly report.
demo: $(VENV)/.runtime
	$(BIN)/healthcheck demo

## Lint, type-check and run the whole test suite.
test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Open the notebooks in JupyterLab (run `make demo` first for data).
lab: $(VENV)/.runtime
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) reports data/store .mypy_cache .ruff_cache .pytest_cache
