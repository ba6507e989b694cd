# Developer tasks for django-trax. Everything runs from the project's virtualenv ($(VENV)).
#
#   make install      create .venv and install the package with its test and dev extras
#   make run          migrate, create admin/admin if there is no user, serve on 127.0.0.1:PORT
#   make test         full suite: checks, ruff, mypy, pytest on a throwaway PostgreSQL and on SQLite;
#                     browser tests in Debian's Chromium (installed when missing, as root)
#   make test-sqlite  pytest on SQLite only (quick)
#   make lint         ruff + mypy
#   make check        manage.py check + makemigrations --check
#   make bench        run the benchmarks in bench/ on a throwaway PostgreSQL (not tests)
#   make pg-start     start a PostgreSQL for development, print the DATABASE_URL to export
#   make pg-shell     psql into it
#   make pg-stop      stop it and delete its data
#   make clean        remove the virtualenv and the SQLite databases
#
# Variables: PORT=8000, PYTEST_ARGS="-k foo -x", SCHEDULER="<command>" (run only),
# PYTHON=python3, FAIL_FAST=1 (test: stop at the first failing step).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Inside the venv, so deleting the venv forces a reinstall.
STAMP := $(VENV)/.install-stamp
RUN_STAMP := $(VENV)/.install-run-stamp
PG_STATE := .pg/state

PORT ?= 8000
PYTEST_ARGS ?=
# Command of the scheduler process to start alongside daphne in `make run`; empty: none.
# See scripts/run.sh.
SCHEDULER ?= $(VENV)/bin/python manage.py trax_scheduler

# The example project's settings fail closed (DEBUG off, SECRET_KEY required): the targets
# here are development, so they bring a development key unless one is set. `make run` also
# turns DEBUG on (scripts/run.sh).
SECRET_KEY ?= django-insecure-development-only-never-deploy-this-key

export VENV PORT PYTEST_ARGS SCHEDULER FAIL_FAST SECRET_KEY

.DEFAULT_GOAL := help
.PHONY: help install run test test-sqlite lint check bench pg-start pg-stop pg-shell clean

help:
	@sed -n '3,17s/^# \{0,1\}//p' Makefile

install: $(STAMP)

$(STAMP): pyproject.toml
	bash scripts/venv.sh "$(PYTHON)" "$(VENV)"
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[test,dev,metrics,tracing]'
	touch $(RUN_STAMP) $@

# What running needs only (no test or lint tools): `make run` on a fresh machine.
$(RUN_STAMP): pyproject.toml
	bash scripts/venv.sh "$(PYTHON)" "$(VENV)"
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[metrics]'
	touch $@

run: $(RUN_STAMP)
	exec bash scripts/run.sh

test: install
	bash scripts/pg.sh run -- bash scripts/test.sh

test-sqlite: install
	DATABASE_URL=sqlite:///$(CURDIR)/project/test_run.sqlite3 $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check . ; status=$$?; $(BIN)/mypy || status=1; exit $$status

check: install
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

# fsync on (PG_FAST=0); pg_stat_statements loaded, for the statements per run.
bench: install
	PG_FAST=0 PG_PRELOAD=pg_stat_statements bash scripts/pg.sh run -- bash -c 'status=0; \
		for script in bench/*.py; do \
		printf "\n==> %s\n" "$$script"; $(BIN)/python "$$script" || status=1; done; exit $$status'

pg-start:
	@url=$$(bash scripts/pg.sh start $(PG_STATE)) && \
		printf '\nexport DATABASE_URL=%s\n\n' "$$url"

pg-stop:
	@bash scripts/pg.sh stop $(PG_STATE)

pg-shell:
	psql "$$(bash scripts/pg.sh url $(PG_STATE))"

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache
	rm -f project/*.sqlite3 project/*.sqlite3-wal project/*.sqlite3-shm
