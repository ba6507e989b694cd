#!/usr/bin/env bash
# Serve the example project for a look around: migrate, make sure a superuser exists, then
# run daphne until Ctrl+C (which stops everything, status 0). Called by `make run`.
#
# Environment: PORT (default 8000), VENV (default .venv), DATABASE_URL (default: the SQLite
# file of project/settings.py), SCHEDULER (see below).

set -euo pipefail

cd "$(dirname "$0")/.."
bin=${VENV:-.venv}/bin
port=${PORT:-8000}

# A look around on this machine: development values, stated here since the settings fail closed.
export DEBUG=${DEBUG:-True}
export SECRET_KEY=${SECRET_KEY:-django-insecure-development-only-never-deploy-this-key}

"$bin/python" manage.py migrate --noinput

"$bin/python" manage.py shell --no-imports -c '
from django.contrib.auth import get_user_model

User = get_user_model()
if not User.objects.exists():
    User.objects.create_superuser("admin", "admin@example.com", "admin")
    print("\n*** No user existed: created superuser admin with password admin ***\n")
'

# ---------------------------------------------------------------------------------------
# SCHEDULER: command of the trax scheduler/worker process to run alongside daphne, e.g.
#   make run SCHEDULER='.venv/bin/python manage.py trax_scheduler --interval 2'
# The Makefile's default is `manage.py trax_scheduler`; SCHEDULER= (empty) starts none. It
# runs in the background; Ctrl+C (or daphne ending for any reason) stops it too.
# ---------------------------------------------------------------------------------------
interrupted=0
trap 'interrupted=1' INT

if [[ -n ${SCHEDULER:-} ]]; then
    echo "Starting scheduler: $SCHEDULER"
    # Background commands of a script ignore SIGINT unless told otherwise; SCHEDULER is
    # word-split on purpose, it is a command line.
    # shellcheck disable=SC2086
    (trap - INT QUIT && exec $SCHEDULER) &
    scheduler_pid=$!
    # A Ctrl+C reached the scheduler too (same process group): then only wait for its graceful
    # stop; a second signal would cut it short.
    trap '[[ $interrupted == 1 ]] || kill -TERM "$scheduler_pid" 2>/dev/null
          wait "$scheduler_pid" 2>/dev/null' EXIT
fi

# Quiet: daphne writes no access-log line per request (static files included); errors and
# the project's own log lines still show. Ctrl+C stops everything and ends with status 0.
(trap - INT QUIT && exec "$bin/daphne" -v 0 -b 127.0.0.1 -p "$port" project.asgi:application) &
daphne_pid=$!
for _ in $(seq 1 300); do # up to 30 s for the port to open
    kill -0 "$daphne_pid" 2>/dev/null || break
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

if kill -0 "$daphne_pid" 2>/dev/null; then
    cat <<EOF

The example project is running (Ctrl+C stops it):
    http://127.0.0.1:$port/trax/     the trax console (staff only)
    http://127.0.0.1:$port/admin/    Django admin (admin / admin if created above)
    http://127.0.0.1:$port/          home
EOF
    if [[ -n ${SCHEDULER:-} ]]; then
        echo "Alongside runs a scheduler: the manager, the dispatcher, local workers, the demo schedules."
    fi
    echo
fi

status=0
while kill -0 "$daphne_pid" 2>/dev/null; do
    status=0
    wait "$daphne_pid" || status=$? # set -e: a wait cut short by Ctrl+C must not end the script
done
if [[ $interrupted == 1 ]]; then
    exit 0
fi
exit "$status"
