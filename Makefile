# Two commands: `make run` serves the panel, `make test` runs every test. Both set up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app app

.PHONY: run test test-postgresql setup setup-test translations db clean bench system-packages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@

# Compiled catalogues are build output: made from the .po files every time they change.
translations: $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d translations -D messages 2>&1 | grep -v "^compiling" || true
	$(BIN)/pybabel compile --use-fuzzy -d translations -D admin 2>&1 | grep -v "^compiling" || true

# umask 077: the instance folder holds personal data; whatever the setup, the server, the worker and the
# command line create there is readable by its owner only (folders 0700, files 0600; services/files.py).
setup: $(VENV)/.installed translations
	umask 077; mkdir -p instance/uploads

db: setup
	umask 077; $(FLASK) init-db
	umask 077; $(FLASK) ensure-admin

# The background worker (huey_consumer: notifications, later sync and exports) runs beside the web
# server and is stopped (SIGINT: finish the current job) whenever gunicorn exits, however it exits.
# WEB_WORKERS=N serves with N gunicorn processes (8 threads each). More than one needs REDIS_URL, where they
# share rate limits and the worker's queue (`scripts/redis.sh start` runs a local one); the app refuses otherwise.
WEB_WORKERS ?= 1
run: db
	@echo "Serving http://127.0.0.1:$(PORT)/admin/ with $(WEB_WORKERS) web process(es) (background worker: huey_consumer worker.huey)"
	@if [ "$(WEB_WORKERS)" -gt 1 ] && [ -z "$$REDIS_URL" ] && [ -z "$$RATELIMIT_STORAGE_URI" ]; then \
	  echo "WEB_WORKERS=$(WEB_WORKERS) needs REDIS_URL: run scripts/redis.sh start, then REDIS_URL=redis://127.0.0.1:6379/0 make run WEB_WORKERS=$(WEB_WORKERS)"; exit 1; fi
	@export WEB_WORKERS=$(WEB_WORKERS); umask 077; $(BIN)/huey_consumer worker.huey --workers 2 & worker=$$!; \
	trap 'kill -INT $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT TERM; \
	$(BIN)/gunicorn -c gunicorn.conf.py --workers $(WEB_WORKERS) --threads 8 --bind 127.0.0.1:$(PORT) --access-logfile - "app:create_app()"

# The portal's browser test drives Debian's Chromium; a clean machine gets it here. Both lanes run on
# TEST_JOBS processes (pytest-xdist; every test has its own database either way).
TEST_JOBS ?= 2
test: setup $(VENV)/.installed-test system-packages
	$(BIN)/bandit -q -r . -x ./.venv,./tests,./bench --severity-level high
	$(BIN)/python -m pytest -q -n $(TEST_JOBS)
	@if [ "$(SKIP_PG)" = 1 ] && [ "$$CI" != true ]; then echo "PostgreSQL lane skipped (SKIP_PG=1)"; \
	else $(MAKE) --no-print-directory test-postgresql; fi

# What the tests drive besides Python: Debian's Chromium (browser tests), redis-server (several processes
# sharing limits and the queue) and postgresql (the second lane), with one apt-get update for whatever is missing.
system-packages:
	@missing=""; test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	[ "$(SKIP_PG)" = 1 ] || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

# The second lane: every test that uses a database, again on PostgreSQL, on both cores. scripts/postgres.sh
# installs Debian's postgresql if needed and starts a throw-away server (stopped after, unless it was already
# running). `make test SKIP_PG=1` skips the lane locally; CI (CI=true) always runs it.
test-postgresql: setup $(VENV)/.installed-test
	@running=0; scripts/postgres.sh status && running=1; \
	MUSTAFEED_PG_FAST=1 scripts/postgres.sh start >/dev/null || exit 1; \
	echo "PostgreSQL lane on $$(scripts/postgres.sh url)"; \
	TEST_DATABASE_URL=$$(scripts/postgres.sh url) $(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_JOBS); \
	status=$$?; [ $$running = 1 ] || scripts/postgres.sh stop; exit $$status

# Benchmarks (board mirror against the local fake Sheets API, list exports); bench/RESULTS.md records them.
bench: setup $(VENV)/.installed-test
	$(BIN)/python bench/sync_bench.py
	$(BIN)/python bench/export_bench.py
	# The import: 50,000 rows as CSV, XLSX and the volunteers' own layout, dry run and commit (issue 25).
	$(BIN)/python bench/import_bench.py
	# Every list, the home page and the bulk assignment on 300,000 requests, SQLite then PostgreSQL
	# (scripts/postgres.sh); the data is generated once into ~/.cache/mustafeed-bench (bench/data.py).
	$(BIN)/python bench/list_bench.py
	$(BIN)/python bench/home_bench.py
	$(BIN)/python bench/bulk_bench.py
	# 50 staff for 60 s against gunicorn with 4 workers, a real redis-server and the worker (issue 9).
	$(BIN)/python bench/load_bench.py --users 50 --seconds 60 --workers 4

clean:
	rm -rf $(VENV) .pytest_cache
