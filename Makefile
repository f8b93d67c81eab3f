# Two entry points for a fresh machine:
#   make run   - create .venv, install Sirocco, validate the bundled examples and run one
#   make test  - create .venv, install Sirocco with its test tools, lint, type-check and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean services

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sirocco validate sirocco/examples/*.yaml
	$(BIN)/sirocco run sirocco/examples/hello.yaml --input '{"name": "Sirocco"}'

services:
	bash .ci/services.sh

lint: $(STAMP)
	$(BIN)/ruff check sirocco tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) services lint typecheck
	$(BIN)/pytest -n 2 tests

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
