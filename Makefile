# Two commands for a newcomer: `make run` and `make test`. Both create .venv and install the
# locked dependencies first (pinned, hashed: requirements.lock).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VERSION ?= v$(shell date +%Y%m%d%H%M)

.PHONY: run test test-postgres test-faults lint install lock clean histories

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/arrears up

test: $(STAMP)
	$(BIN)/pytest -q -m "not faults"

# The database-touching tests again, against the PostgreSQL in DATABASE_URL.
test-postgres: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
		$(BIN)/pytest -q -m database

# The fault-injection suite on real processes (docs/reliability.md): the dev server, two workers,
# two APIs, the sandbox gateway and PostgreSQL on 127.0.0.1:5432 (database `test`).
test-faults: $(STAMP)
	$(BIN)/pytest -q -m faults tests/faults

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy .

# Re-resolve the lock files after changing pyproject.toml dependencies: requirements.lock is
# everything (runtime, the simulator's `sim` extra and the `dev` tools; `make install`),
# requirements-runtime.lock the runtime alone (the Docker image). The runtime lock is resolved
# from a copy of the full one, so pip-compile keeps its pins: the two never disagree on a version;
# it includes the editable install's build dependencies (setuptools), as the image installs the
# project with --no-build-isolation.
LOCK_FLAGS := --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock: | $(BIN)/python
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --extra dev --extra sim $(LOCK_FLAGS) -o requirements.lock pyproject.toml
	cp requirements.lock requirements-runtime.lock
	$(BIN)/pip-compile --build-deps-for editable $(LOCK_FLAGS) -o requirements-runtime.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Record representative histories into a NEW folder tests/histories/$(VERSION) (never over old;
# e.g. `make histories VERSION=1.1`), all in one process: the time-skipping server, the worker, the
# API, the sandbox gateway and a temporary store (docs/versioning.md).
histories: $(STAMP)
	$(BIN)/arrears dev record-histories $(VERSION)
