# ClickPhone control plane. `make run` and `make test` are the two commands
# a newcomer needs; both install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test bench system-deps venv clean-testbed

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

system-deps:
	./scripts/install-system-deps.sh

run: system-deps venv
	$(BIN)/clickphone run

test: system-deps venv
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

bench: system-deps venv
	$(BIN)/python -m bench

# Kills anything left inside the testbed root and unmounts it.
clean-testbed: venv
	$(BIN)/clickphone asterisk down
