# Accords — every target bootstraps .venv itself, so a fresh machine needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench bench-uncached migrate demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/accords dev

# Most tests run on several workers (a module stays on one worker, so its
# servers and databases are set up once); the few that stop a shared server
# (RabbitMQ, Redis) run alone afterwards, so they disturb nobody else's test.
# Files go out in the order tests/conftest.py gives them (the slow process
# tests first), not xdist's own (fewest tests last).
PYTEST_WORKERS ?= 4

# Bytecode is kept under .venv (never in the tree), even where the
# environment sets PYTHONDONTWRITEBYTECODE: otherwise every pytest worker
# and every `accords` process a test starts compiles the project again.
test: export PYTHONPYCACHEPREFIX := $(CURDIR)/$(VENV)/pycache
test: export PYTHONDONTWRITEBYTECODE :=
test: $(STAMP) lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not disruptive"
	$(BIN)/pytest -m disruptive

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.mail

# The reads again with the response cache off: what each route costs itself.
bench-uncached: $(STAMP)
	$(BIN)/python -m bench.run --no-response-cache

migrate: $(STAMP)
	$(BIN)/accords migrate

demo: $(STAMP)
	$(BIN)/accords demo

clean:
	rm -rf $(VENV) var/*.db .pytest_cache
