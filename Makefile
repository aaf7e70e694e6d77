# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint format schema install clean

$(INSTALLED): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Offerdesk needs Python 3.11 or newer (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m pip check
	touch $@

install: $(INSTALLED)

## Set up, migrate ./offerdesk.db, load demo data, print a token, serve with GraphiQL.
run: $(INSTALLED)
	$(BIN)/offerdesk migrate
	$(BIN)/offerdesk demo --port $(PORT)
	$(BIN)/offerdesk serve --no-migrate --port $(PORT)

## Set up and run the whole test suite (PostgreSQL too when OFFERDESK_TEST_POSTGRES_URL is set).
test: $(INSTALLED)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy src

format: $(INSTALLED)
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

schema: $(INSTALLED)
	$(BIN)/offerdesk export-schema > schema.graphql

clean:
	rm -rf $(VENV) *.egg-info src/*.egg-info
