# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run demo test test-sqlite test-postgres bench lint migrate venv clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

## Serve the engine and dashboard on the embedded default (var/nexgent.sqlite3), against the
## real market APIs.
run: migrate
	$(PY) manage.py ensure_demo_operator
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

## The same against an in-process local market with a stream of demo signals (no internet), on
## a database of its own (var/demo.sqlite3) that every start empties.
demo: $(STAMP)
	NEXGENT_DEMO=1 $(PY) manage.py migrate --noinput
	NEXGENT_DEMO=1 $(PY) manage.py serve --host $(HOST) --port $(PORT) --localnet --demo

## The whole suite: on SQLite, then on a real PostgreSQL + Redis started by the harness.
test: $(STAMP)
	$(PY) -m tests.run --backend all

test-sqlite: $(STAMP)
	$(PY) -m tests.run --backend sqlite

test-postgres: $(STAMP)
	$(PY) -m tests.run --backend postgres

bench: $(STAMP)
	$(PY) -m bench.run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(PY) manage.py check
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var
