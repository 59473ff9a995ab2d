# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The C hot path is built by the install: rebuild when its source changes.
$(VENV)/.installed: pyproject.toml collector/_fastspool.c | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml collector/_fastspool.c | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,postgres,ibm,braket,ionq]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/qsre demo

test: $(VENV)/.installed-test
	bash .ci/install-system-deps
	$(BIN)/python -m pytest -q -ra --durations=15

test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -ra -m "not slow"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(VENV)/.installed-test
	for b in bench/*.py; do grep -q '__main__' $$b || continue; echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) qsre-demo .pytest_cache build *.egg-info collector/*.so
