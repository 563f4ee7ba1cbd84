# itptrace: `make demo` and `make test` work on a fresh machine with Python >= 3.11.
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
PYTHON  ?= python3
# pytest-xdist workers for `make test` (auto: one per CPU; each starts its own PostgreSQL)
WORKERS ?= auto

.PHONY: install demo test lint bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/itptrace demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy --strict src
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -q -n $(WORKERS)

bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

bench-quick: $(STAMP)
	@for script in bench/*.py; do echo "== $$script --quick"; $(BIN)/python $$script --quick || exit 1; done

clean:
	rm -rf $(VENV) demo-output .mypy_cache .ruff_cache .pytest_cache
