# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test test-needs lint format schema install clean bench bench-data bench-smoke bench-explain wrk

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
test: test-needs $(INSTALLED)
	$(BIN)/pytest $(PYTEST_ARGS)

## What the tests need besides Python, checked first: what is missing is named in one line.
test-needs:
	@missing=""; \
	{ command -v node >/dev/null \
	  && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; } \
	  || missing="$$missing Node.js>=20"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	test -x /usr/bin/chromium || missing="$$missing /usr/bin/chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "make test needs:$$missing (Debian/Ubuntu: apt-get install nodejs npm chromium)"; \
	  exit 1; fi

lint: $(INSTALLED)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

format: $(INSTALLED)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

schema: $(INSTALLED)
	$(BIN)/offerdesk export-schema > schema.graphql

## Benchmarks (bench/, README "Performance"). PostgreSQL from OFFERDESK_BENCH_POSTGRES_URL
## (default postgresql+asyncpg://postgres@127.0.0.1:5432; databases offerdesk_bench*).
wrk:
	@command -v wrk >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
		else echo "the benchmarks need wrk: sudo apt-get install wrk"; exit 1; fi; }

## The datasets (10k offers ... 1M enrollments on PostgreSQL, a tenth on SQLite); kept while current.
bench-data: $(INSTALLED)
	$(BIN)/python -m bench.datagen --profile full

## Everything: datasets, wrk against real servers with the floor beside, EXPLAIN of Q1-Q3,
## the database's own ceiling (pgbench), Offerdesk beside PostGraphile (needs npm). Writes
## bench/RESULTS.md, results.json, EXPLAIN.md, CEILING.md and comparison.json.
bench: $(INSTALLED) wrk bench-data
	$(BIN)/python -m bench.run --profile full
	$(BIN)/python -m bench.explain
	$(BIN)/python -m bench.ceiling
	$(BIN)/python -m bench.comparison

bench-explain: $(INSTALLED) bench-data
	$(BIN)/python -m bench.explain

## The same on a tiny dataset, in about a minute (writes bench/data/RESULTS-smoke.md).
bench-smoke: $(INSTALLED) wrk
	$(BIN)/python -m bench.datagen --profile smoke
	$(BIN)/python -m bench.run --profile smoke
	$(BIN)/python -m bench.comparison --dataset offerdesk_bench_smoke --duration 1 --warmup 0 \
		--rounds 1 --output bench/data/RESULTS-smoke.md

clean:
	rm -rf $(VENV) *.egg-info src/*.egg-info
