# RedFire: `make run` serves the API, `make test` runs the suite. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

# Two stamps, each remade only when its inputs change: the runtime (what `make run` needs:
# vnpy without its Qt desktop, as the Docker image installs it) and the dev tools on top
# (what `make test` and `make lint` add). Switching between them reinstalls nothing.
RUNTIME_STAMP := $(VENV)/.runtime-stamp
DEV_STAMP     := $(VENV)/.dev-stamp
INSTALLER     := docker/install_runtime.py
RUNTIME_INPUTS := pyproject.toml $(INSTALLER) docker/requirements-vnpy-core.txt

.PHONY: install install-runtime run migrate test test-embedded test-services lint format bench slim-check soak fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): $(RUNTIME_INPUTS) | $(BIN)/python
	$(BIN)/python $(INSTALLER) deps --project .
	$(BIN)/python $(INSTALLER) app --project .
	@touch $@

$(DEV_STAMP): $(RUNTIME_STAMP)
	$(BIN)/python $(INSTALLER) dev --project .
	@touch $@

install-runtime: $(RUNTIME_STAMP)

install: $(DEV_STAMP)

migrate: install-runtime
	@$(BIN)/redfire check-config >/dev/null
	$(BIN)/redfire migrate

run: migrate
	$(BIN)/redfire serve --host $(HOST) --port $(PORT)

# The suite on the embedded default, then on PostgreSQL + Redis when TEST_* URLs are set.
test: install
	@$(MAKE) --no-print-directory test-embedded
	@if [ -n "$$TEST_DATABASE_URL" ] || [ -n "$$TEST_REDIS_URL" ]; then \
		$(MAKE) --no-print-directory test-services; \
	else \
		echo "TEST_DATABASE_URL / TEST_REDIS_URL not set: PostgreSQL + Redis run skipped"; \
	fi

test-embedded: install
	@echo "== tests on SQLite + in-memory cache =="
	env -u TEST_DATABASE_URL -u TEST_REDIS_URL $(BIN)/pytest $(PYTEST_ARGS)

test-services: install
	@echo "== tests on PostgreSQL ($$TEST_DATABASE_URL) + Redis ($$TEST_REDIS_URL) =="
	$(BIN)/pytest $(PYTEST_ARGS)

# schemathesis over every operation of /openapi.json, as a trader and as an admin, with far more
# examples than `make test` runs (12 per operation and role); on PostgreSQL + Redis when TEST_*
# URLs are set. Derandomized: the same examples every run; FUZZ_SEED=<n> explores others.
FUZZ_EXAMPLES ?= 500
fuzz: install
	FUZZ_MAX_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/api/test_contract_fuzz.py $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check backend tests bench migrations scripts docker
	$(BIN)/ruff format --check backend tests bench migrations scripts docker
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix backend tests bench migrations scripts docker
	$(BIN)/ruff format backend tests bench migrations scripts docker

bench: install
	$(BIN)/python -m bench

# A cold `make run` in a fresh copy of the project: time to /health/ready, the venv's size.
slim-check:
	$(PYTHON) scripts/slim_install_check.py

# 10-minute soak on PostgreSQL + Redis, not in CI (SOAK_SECONDS / SOAK_RATE override).
soak: install
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache redfire.db redfire.db-*
