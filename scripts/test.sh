#!/usr/bin/env bash
# The full test suite, run by `make test` inside `scripts/pg.sh run --`, which exports a
# PostgreSQL DATABASE_URL. Every step runs even when an earlier one failed (FAIL_FAST=1 stops
# at the first failure); the exit code is non-zero if any step failed.
#
# The browser tests (tests/browser/) must run here: scripts/chromium.sh installs Debian's
# Chromium first when it is missing, and TRAX_BROWSER_TESTS=require makes them fail, not skip,
# without it. TRAX_BROWSER_TESTS=auto (a developer's choice, never CI's) skips the install and
# lets them skip when there is no Chromium.
#
# Environment: DATABASE_URL (postgres://...), PYTEST_ARGS (extra pytest arguments, shell
# quoting allowed: PYTEST_ARGS="-k 'cron and not slow'"), VENV (default .venv), FAIL_FAST,
# TRAX_BROWSER_TESTS (default require).

set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
bin=${VENV:-.venv}/bin

case ${DATABASE_URL:-} in
postgres://* | postgresql://*) pg_url=$DATABASE_URL ;;
*)
    echo "test.sh: DATABASE_URL must point at PostgreSQL; run me through scripts/pg.sh run --" >&2
    exit 2
    ;;
esac
sqlite_url="sqlite:///$PWD/project/test_run.sqlite3"
export TRAX_BROWSER_TESTS=${TRAX_BROWSER_TESTS:-require}

# eval so that PYTEST_ARGS can carry quoted arguments, as on a command line.
pytest_args=()
eval "pytest_args=(${PYTEST_ARGS:-})" || exit 2

failed=()

step() {
    local name=$1
    shift
    printf '\n==> %s\n' "$name"
    if "$@"; then
        return 0
    fi
    echo "==> FAILED: $name" >&2
    failed+=("$name")
    if [[ ${FAIL_FAST:-0} != 0 ]]; then
        summary
    fi
}

summary() {
    echo
    if [[ ${#failed[@]} -eq 0 ]]; then
        echo "==> All steps passed."
        exit 0
    fi
    echo "==> ${#failed[@]} step(s) failed:" >&2
    printf '      - %s\n' "${failed[@]}" >&2
    exit 1
}

step "manage.py check" "$bin/python" manage.py check
step "makemigrations --check" "$bin/python" manage.py makemigrations --check --dry-run
step "ruff check" "$bin/ruff" check .
step "mypy" "$bin/mypy"
if [[ $TRAX_BROWSER_TESTS == require ]]; then
    step "Chromium for the browser tests" bash scripts/chromium.sh
fi
step "pytest (PostgreSQL)" env DATABASE_URL="$pg_url" "$bin/pytest" "${pytest_args[@]}"
step "pytest (SQLite)" env DATABASE_URL="$sqlite_url" "$bin/pytest" "${pytest_args[@]}"
rm -f project/test_run.sqlite3 project/test_run.sqlite3-wal project/test_run.sqlite3-shm
summary
