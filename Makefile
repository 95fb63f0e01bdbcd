# The README's two set-up commands: `make book` (the main job) and `make test` (the tests).
# Both create or reuse .venv and install the exact versions pinned in requirements/lock.txt.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= cpu
STAMP := $(VENV)/.mtmri-installed

.PHONY: book test lint format bench venv clean

venv: $(STAMP)

$(STAMP): requirements/lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps --no-input -r requirements/lock.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --no-input -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

book: venv
	$(BIN)/mtmri book --profile $(PROFILE)

test: venv lint
	$(BIN)/python -m pytest -n 2 --timeout 1800

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv
	$(BIN)/mtmri bench artefacts

clean:
	rm -rf _build build
