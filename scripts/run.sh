#!/usr/bin/env bash
# Serve the example project for a look around: migrate, make sure a superuser exists, then
# exec daphne in the foreground (Ctrl+C stops it). Called by `make run`.
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
if [[ -n ${SCHEDULER:-} ]]; then
    echo "Starting scheduler: $SCHEDULER"
    # Background commands of a script ignore SIGINT unless told otherwise; SCHEDULER is
    # word-split on purpose, it is a command line.
    # shellcheck disable=SC2086
    (trap - INT QUIT && exec $SCHEDULER) &
    scheduler_pid=$!
    trap 'kill -TERM "$scheduler_pid" 2>/dev/null; wait "$scheduler_pid" 2>/dev/null' EXIT
fi

cat <<EOF

Serving the example project with daphne (Ctrl+C to stop):
    http://127.0.0.1:$port/          home
    http://127.0.0.1:$port/admin/    Django admin (admin / admin if created above)
    http://127.0.0.1:$port/trax/     trax dashboard

EOF
# Not exec'd, so the EXIT trap above stops the scheduler whichever way daphne ends.
"$bin/daphne" -b 127.0.0.1 -p "$port" project.asgi:application
