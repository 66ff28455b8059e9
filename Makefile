# etstats: `make up` runs the whole stack locally, `make test` checks everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: up demo test test-fast compose-test lint typecheck format proto bench chaos clean

$(INSTALLED): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "etstats needs Python 3.11 or newer ($(PYTHON) is older); set PYTHON=python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
		{ rm -rf $(VENV); echo "could not create $(VENV): on Debian/Ubuntu run 'apt-get install python3-venv'"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $@

# Settings in .env (if present) apply to the local stack; see .env.example.
LOAD_ENV := set -a; if [ -f .env ]; then . ./.env; fi; set +a;

up: $(INSTALLED)
	@$(LOAD_ENV) exec $(BIN)/etstats up

demo: $(INSTALLED)
	@$(LOAD_ENV) exec $(BIN)/etstats demo

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Paths and settings in [tool.mypy] of pyproject.toml.
typecheck: $(INSTALLED)
	$(BIN)/mypy

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The unit tier only (pure functions: no servers, no processes), in well under a minute.
test-fast: lint typecheck
	$(BIN)/python -m pytest -m unit $(PYTEST_ARGS)

# The compose deployment for real: build, start with a test SFTP server and the
# fake Discord, a round stored and posted, scale, stop and start, tear down.
# Needs Docker and the images docker-compose.yml names; not part of `make test`.
compose-test: $(INSTALLED)
	$(BIN)/python -m tests.compose_stack

# Figures go into BENCHMARKS.md; tests never assert timings.
bench: $(INSTALLED)
	$(BIN)/python -m benchmarks.parser
	$(BIN)/python -m benchmarks.fetch
	$(BIN)/python -m benchmarks.latency
	$(BIN)/python -m benchmarks.queries
	$(BIN)/python -m benchmarks.reads
	$(BIN)/python -m benchmarks.images

chaos: $(INSTALLED)
	$(BIN)/python -m benchmarks.chaos

proto: $(INSTALLED)
	$(BIN)/python -m etstats_cli.protogen

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
