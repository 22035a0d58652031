# Slot Booking. `make run` serves the API and admin; `make test` runs the whole suite.
# Both set up everything on a fresh machine with Python 3.11: the virtualenv, an embedded
# PostgreSQL (and Redis) when DATABASE_URL (REDIS_URL) is unset, migrations, demo data.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
export SLOTBOOKING_DATA_DIR ?= $(CURDIR)/var
# Every target here is a development checkout, even against an existing DATABASE_URL: a
# generated secret key is fine. Deployments (the Docker image) run with DJANGO_ENV=production.
export DJANGO_ENV ?= development
PORT ?= 3000
HOST ?= 127.0.0.1
export PORT
INSTALLED := $(VENV)/.installed

.PHONY: help venv db db-stop redis redis-stop services migrate static seed run test lint lock docs fmt bench worker clean bench-export

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

venv: $(INSTALLED)  ## create .venv and install the locked requirements (skipped when up to date)

# requirements.txt (runtime) and requirements-dev.txt (tests, lint) are lock files: every package
# pinned with its hashes, written by `make lock` from requirements.in and requirements-dev.in.
$(INSTALLED): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements.txt -r requirements-dev.txt
	@touch $@

PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

lock: venv  ## regenerate the hashed lock files from requirements.in and requirements-dev.in
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in

db: venv  ## start the embedded PostgreSQL unless DATABASE_URL is set
	@if [ -z "$$DATABASE_URL" ]; then \
		url=$$($(PY) -m devserver.embedded postgres start) || exit 2; \
		echo "Embedded PostgreSQL: $$url (data in $$SLOTBOOKING_DATA_DIR/postgres)"; \
	else echo "Using DATABASE_URL"; fi

db-stop: venv  ## stop the embedded PostgreSQL (its data is kept)
	@if [ "$$($(PY) -m devserver.embedded postgres status 2>/dev/null)" = running ]; then \
		$(PY) -m devserver.embedded postgres stop && \
		echo "Embedded PostgreSQL stopped (data kept in $$SLOTBOOKING_DATA_DIR/postgres)"; \
	else echo "Embedded PostgreSQL was not running (data in $$SLOTBOOKING_DATA_DIR/postgres)"; fi

redis: venv  ## start the embedded Redis unless REDIS_URL is set (installs redis-server if missing)
	@if [ -z "$$REDIS_URL" ]; then \
		command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || \
		{ command -v apt-get >/dev/null && echo "Installing redis-server from the OS packages" && \
		  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq redis-server; \
		  else sudo -n apt-get update -qq && sudo -n apt-get install -y -qq redis-server; fi; } || true; \
		url=$$($(PY) -m devserver.embedded redis start) || exit 2; \
		echo "Embedded Redis: $$url"; \
	else echo "Using REDIS_URL"; fi

redis-stop: venv  ## stop the embedded Redis
	@$(PY) -m devserver.embedded redis stop

migrate: db  ## apply the migrations
	@$(MANAGE) migrate --noinput -v 0

static: venv
	@$(MANAGE) collectstatic --noinput -v 0

seed: migrate  ## load the demo data (idempotent) and print the demo users' tokens (stable)
	@$(MANAGE) seed_demo --tokens

# The staff login that `make run` suggests, as one command to copy (tests run it as printed).
ADMIN_HINT = ADMIN_PASSWORD='choose-a-password' DJANGO_ENV=$(DJANGO_ENV) $(MANAGE) create_staff --email you@example.com --name You --superuser --password-from-env ADMIN_PASSWORD

run: migrate static redis  ## serve the API and admin on PORT with Redis (rate limits), the default worker and beat (webhooks, holds, waitlist); BOOKING_MODE=queued adds the booking workers
	@$(MANAGE) seed_demo --tokens
	@echo
	@echo "API:     http://$(HOST):$(PORT)/api"
	@echo "Docs:    http://$(HOST):$(PORT)/docs"
	@echo "Admin:   http://$(HOST):$(PORT)/admin/  (a login, in another shell: $(ADMIN_HINT))"
	@echo "Stop with Ctrl-C; the embedded database keeps running for the next run (make db-stop)."
	@echo
	@# The default-queue worker and beat (webhooks, hold expiry, waitlist offers, cleanup) always,
	@# the partition workers when queued: they run beside gunicorn and stop with it.
	@$(MANAGE) run_booking_workers --if-queued --with-beat --loglevel warning & workers=$$!; \
	trap 'kill $$workers 2>/dev/null; wait $$workers' EXIT; \
	$(VENV)/bin/gunicorn slotbooking.wsgi -c slotbooking/gunicorn_conf.py --bind $(HOST):$(PORT) --log-level warning

worker: migrate redis  ## the workers alone: default worker and beat (webhooks, holds, waitlist, cleanup), plus one per partition in queued mode
	exec $(MANAGE) run_booking_workers --if-queued --with-beat

test: db redis chromium  ## run the whole suite against real PostgreSQL and Redis
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The dashboard's browser test drives Debian's Chromium through chromedriver (Selenium): both
# come from the OS packages, never downloaded by a tool at run time.
.PHONY: chromium screenshots
chromium:  ## install chromium and chromedriver from the OS packages when missing
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
		else sudo -n apt-get update -qq && sudo -n apt-get install -y -qq chromium chromium-driver; fi; }

screenshots: db chromium  ## PNGs of the dashboard and changelists into docs/screenshots/
	SLOTBOOKING_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(VENV)/bin/pytest -q \
		analytics/tests/test_dashboard.py slotbooking/tests/test_admin_look.py -k headless_chromium

# make bench (bench/README.md): bench/run.py reads the BENCH_* knobs from the environment.
# wrk is the load generator (C, event loop: a few % of a core at 5k req/s, so it never hides
# the server's limit); when it can't be installed, bench/loadgen.py (Python) stands in for it.
BENCH_DB ?= slotbooking_bench
export BENCH_DB

bench: migrate static redis  ## seed slotbooking_bench, load gunicorn with wrk beside pgbench (BENCH_RESEED=1)
	@command -v wrk >/dev/null || { command -v apt-get >/dev/null && \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
		else sudo -n apt-get update -qq && sudo -n apt-get install -y -qq wrk; fi; } \
		|| echo "wrk could not be installed: bench/loadgen.py (Python) drives the load instead"
	$(PY) -m bench.run

bench-export: migrate static  ## peak server memory while GET /api/admin/bookings.csv streams ~200k bookings
	$(PY) -m bench.export_rss

lint: venv  ## ruff, formatting, mypy and the import contracts (lint-imports)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

docs: venv  ## write docs/api.md from the OpenAPI schema (a test fails when it is stale)
	$(PY) -m core.api.reference > docs/api.md

fmt: venv  ## fix what ruff can fix, then format
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean: db-stop redis-stop  ## stop the embedded servers and delete their data and the venv
	rm -rf $(VENV) var staticfiles
