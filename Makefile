# Two commands: `make run` serves the panel, `make test` runs every test. Both set up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app app

.PHONY: run test setup setup-test translations db clean bench

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

setup: $(VENV)/.installed translations
	mkdir -p instance/uploads

db: setup
	$(FLASK) init-db
	$(FLASK) ensure-admin

# The background worker (huey_consumer: notifications, later sync and exports) runs beside the web
# server and is stopped (SIGINT: finish the current job) whenever gunicorn exits, however it exits.
run: db
	@echo "Serving http://127.0.0.1:$(PORT)/admin/ (background worker: huey_consumer worker.huey)"
	@$(BIN)/huey_consumer worker.huey --workers 2 & worker=$$!; \
	trap 'kill -INT $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT TERM; \
	$(BIN)/gunicorn --workers 1 --threads 8 --bind 127.0.0.1:$(PORT) --access-logfile - "app:create_app()"

# The portal's browser test drives Debian's Chromium; a clean machine gets it here.
test: setup $(VENV)/.installed-test
	test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	$(BIN)/python -m pytest -q

# Benchmarks (board mirror against the local fake Sheets API, list exports); bench/RESULTS.md records them.
bench: setup $(VENV)/.installed-test
	$(BIN)/python bench/sync_bench.py
	$(BIN)/python bench/export_bench.py

clean:
	rm -rf $(VENV) .pytest_cache
