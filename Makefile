# Two entry points for a fresh machine:
#   make run   - create .venv, install Sirocco, validate the bundled examples and run one
#   make test  - create .venv, install Sirocco with its test tools, lint, type-check and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean services

# pip's output goes to $(VENV)/install.log; it is shown only when installing fails.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing Sirocco and its test tools into $(VENV) (pip's log: $(VENV)/install.log)"
	@{ $(BIN)/python -m pip install --upgrade pip && $(BIN)/python -m pip install -e '.[test]'; } \
		> $(VENV)/install.log 2>&1 \
		|| { tail -n 40 $(VENV)/install.log; echo "make: pip failed; its log: $(VENV)/install.log"; exit 1; }
	@touch $(STAMP)

EXAMPLE_FILES := $(sort $(wildcard examples/*.yaml examples/reference/*.yaml))

run: $(STAMP)
	@$(BIN)/sirocco validate $(EXAMPLE_FILES) > $(VENV)/validate.log \
		|| { cat $(VENV)/validate.log; echo "make run: FAILED: an example is not valid"; exit 1; }
	$(BIN)/sirocco run examples/hello.yaml --input '{"name": "Sirocco"}'
	@echo "make run: OK: $(words $(EXAMPLE_FILES)) example files valid; examples/hello.yaml ran to SUCCESS (its output above)"

services:
	bash .ci/services.sh

lint: $(STAMP)
	$(BIN)/ruff check sirocco tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The tests start a few hundred Sirocco processes: compile the package once first (the
# environment may say PYTHONDONTWRITEBYTECODE, and then each process would compile it again).
# Four workers on two cores: much of the suite waits on the processes it starts (their
# start-up, their timers), so two workers left the cores idle part of the time.
# worksteal: each worker starts on its own share of the tests (a module's server starts once)
# and an idle worker takes half of what another has left, so none waits on the others.
test: $(STAMP) services lint typecheck
	@$(BIN)/python -m compileall -q sirocco
	$(BIN)/pytest -n 4 --dist worksteal tests
	@echo "make test: OK: ruff, lint-imports, mypy and the tests passed (the line above counts them)"

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
