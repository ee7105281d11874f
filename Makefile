# OrderDesk: every target creates the virtualenv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint run demo migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest

migrate: $(STAMP)
	$(BIN)/python -m bot migrate

run: $(STAMP)
	$(BIN)/python -m bot

# The offline demo: the real bot against the built-in Bot API sandbox; prints the page's URL (DEMO_PORT).
demo: $(STAMP)
	$(BIN)/python -m bot demo

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
