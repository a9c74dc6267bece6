# The README's two commands: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint lab install clean system-deps

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

# Debian packages the tests run for real: a Prometheus server (and promtool to backfill it),
# Chromium, which opens a rendered report headless and prints it (tests/report/test_browser.py,
# test_print.py), and poppler-utils, whose pdftotext and pdftoppm read the PDF back. Each as
# command:package.
SYSTEM_PACKAGES := prometheus:prometheus chromium:chromium pdftoppm:poppler-utils
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $${p%%:*} >/dev/null || missing="$$missing $${p#*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

## Lint, type-check and run the whole test suite.
test: $(VENV)/.dev system-deps
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
