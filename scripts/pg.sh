#!/usr/bin/env bash
# Throwaway PostgreSQL servers for development and tests.
#
#   scripts/pg.sh start <statefile>   start a server, record it in <statefile>, print DATABASE_URL
#   scripts/pg.sh stop  <statefile>   stop the server recorded in <statefile>, delete its data
#   scripts/pg.sh url   <statefile>   print the DATABASE_URL of a running server
#   scripts/pg.sh run -- <command...> start a server, run <command> with DATABASE_URL exported,
#                                     always stop the server; exit with <command>'s exit code
#   scripts/pg.sh bindir              print the folder of the server binaries it would use (no
#                                     install); exit 1 when there is none
#
# The server listens on 127.0.0.1 only, on a free port (or $PG_PORT), keeps its data, log and
# unix socket in a fresh `mktemp -d` folder, and trusts every local connection. Role `trax` is
# a superuser and owns database `trax`. PostgreSQL refuses to run as root: as root the server
# runs as $PG_USER, else `postgres`, else a system user `trax-pg` created on the spot.
#
# Environment: PG_BINDIR (PostgreSQL binaries), PG_LIB_ROOT (where to look for <major>/bin,
# default /usr/lib/postgresql; the newest major wins), PG_PORT, PG_USER, PG_FAST=0 (keep fsync & co.),
# PG_PRELOAD (shared_preload_libraries, e.g. pg_stat_statements; Debian's server packages ship it).

set -euo pipefail
shopt -s inherit_errexit

prog=$(basename "$0")

die() {
    echo "$prog: $*" >&2
    exit 1
}

log() {
    echo "$prog: $*" >&2
}

# Folder holding initdb/pg_ctl/postgres: $PG_BINDIR, else the newest major version under
# $PG_LIB_ROOT (Debian: /usr/lib/postgresql/<major>/bin; 15 on Debian 12, 17 on Debian 13), else
# what pg_config names (other layouts; libpq-dev alone may name a folder without the server).
find_bindir() {
    local dir
    if [[ -n ${PG_BINDIR:-} ]]; then
        [[ -x $PG_BINDIR/initdb ]] || die "PG_BINDIR=$PG_BINDIR has no initdb"
        echo "$PG_BINDIR"
        return 0
    fi
    for dir in $(printf '%s\n' "${PG_LIB_ROOT:-/usr/lib/postgresql}"/*/bin | sort -V -r); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v pg_config >/dev/null; then
        dir=$(pg_config --bindir 2>/dev/null || true)
        if [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl ]]; then
            echo "$dir"
            return 0
        fi
    fi
    return 1
}

# Debian's `postgresql` package depends on the release's own major version.
install_postgresql() {
    [[ $(id -u) -eq 0 ]] || die "no PostgreSQL server binaries found; install Debian's postgresql package (or set PG_BINDIR)"
    log "no PostgreSQL server binaries found, installing them with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql >&2 || die "could not install PostgreSQL"
}

# The unprivileged user the server runs as when we are root.
server_user() {
    local user=${PG_USER:-}
    if [[ -z $user ]]; then
        if id -u postgres >/dev/null 2>&1; then
            user=postgres
        else
            user=trax-pg
            if ! id -u "$user" >/dev/null 2>&1; then
                log "creating system user $user to run PostgreSQL"
                useradd --system --no-create-home --home-dir /nonexistent \
                    --shell /usr/sbin/nologin "$user" >&2
            fi
        fi
    fi
    [[ $(id -u "$user") -ne 0 ]] || die "PG_USER=$user is root; PostgreSQL will not run as root"
    echo "$user"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Run a PostgreSQL binary as the server user. The working directory is the server folder:
# the server user may not be allowed into the caller's one.
as_server() {
    local cmd=$PG_BINDIR/$1
    shift
    if [[ -n $PG_RUNAS ]]; then
        (cd "$PG_TMPDIR" && runuser -u "$PG_RUNAS" -- env LC_ALL=C "$cmd" "$@")
    else
        (cd "$PG_TMPDIR" && env LC_ALL=C "$cmd" "$@")
    fi
}

write_state() {
    local file=$1
    {
        printf 'PG_BINDIR=%q\n' "$PG_BINDIR"
        printf 'PG_TMPDIR=%q\n' "$PG_TMPDIR"
        printf 'PG_RUNAS=%q\n' "$PG_RUNAS"
        printf 'PG_PORT=%q\n' "$PG_PORT"
        printf 'DATABASE_URL=%q\n' "$DATABASE_URL"
    } >"$file"
}

load_state() {
    local file=$1
    [[ -f $file ]] || return 1
    # shellcheck disable=SC1090  # written by write_state above
    source "$file"
}

is_running() {
    [[ -d ${PG_TMPDIR:-} ]] && as_server pg_ctl -D "$PG_TMPDIR/data" status >/dev/null 2>&1
}

cmd_start() {
    local state=${1:?usage: $prog start <statefile>}
    if load_state "$state"; then
        if is_running; then
            log "already running (state in $state)"
            echo "$DATABASE_URL"
            return 0
        fi
        log "stale state in $state, cleaning up"
        cmd_stop "$state"
    fi

    PG_BINDIR=$(find_bindir) || { install_postgresql && PG_BINDIR=$(find_bindir); } ||
        die "no PostgreSQL server binaries found after installing"
    PG_RUNAS=
    [[ $(id -u) -ne 0 ]] || PG_RUNAS=$(server_user)
    if [[ -n ${PG_PRELOAD:-} && ! $PG_PRELOAD =~ ^[A-Za-z0-9_]+(,[A-Za-z0-9_]+)*$ ]]; then
        die "PG_PRELOAD='$PG_PRELOAD' is not a comma-separated list of library names"
    fi
    PG_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/trax-pg.XXXXXX")
    PG_PORT=${PG_PORT:-$(free_port)}
    DATABASE_URL="postgres://trax:trax@127.0.0.1:$PG_PORT/trax"
    mkdir -p "$(dirname "$state")"
    write_state "$state"
    # From here on, a failure removes the half-started server.
    trap 'cmd_stop "$state"' EXIT
    if [[ -n $PG_RUNAS ]]; then
        # mktemp made the folder 0700 for root.
        chown "$PG_RUNAS" "$PG_TMPDIR"
        runuser -u "$PG_RUNAS" -- test -w "$PG_TMPDIR" ||
            die "user $PG_RUNAS cannot write to $PG_TMPDIR (check TMPDIR and its parents' permissions)"
    fi

    if ! as_server initdb -D "$PG_TMPDIR/data" -U trax --auth=trust --encoding=UTF8 \
        --locale=C --no-sync >"$PG_TMPDIR/initdb.log" 2>&1; then
        cat "$PG_TMPDIR/initdb.log" >&2
        die "initdb failed"
    fi

    {
        echo "# Added by $prog"
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $PG_PORT"
        echo "unix_socket_directories = '$PG_TMPDIR'"
        echo "max_connections = 200"
        if [[ ${PG_FAST:-1} != 0 ]]; then
            # Throwaway data: durability buys nothing, and these make test runs faster.
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
        if [[ -n ${PG_PRELOAD:-} ]]; then
            echo "shared_preload_libraries = '$PG_PRELOAD'"
        fi
    } >>"$PG_TMPDIR/data/postgresql.conf"

    if ! as_server pg_ctl -D "$PG_TMPDIR/data" -l "$PG_TMPDIR/postgres.log" -w -t 60 start \
        >/dev/null; then
        log "PostgreSQL failed to start; its log follows"
        cat "$PG_TMPDIR/postgres.log" >&2 || true
        die "could not start PostgreSQL"
    fi
    as_server createdb -h 127.0.0.1 -p "$PG_PORT" -U trax trax ||
        die "could not create database trax"
    trap - EXIT
    log "PostgreSQL $(as_server postgres --version | awk '{print $3}') running on 127.0.0.1:$PG_PORT (data in $PG_TMPDIR)"
    echo "$DATABASE_URL"
}

cmd_stop() {
    local state=${1:?usage: $prog stop <statefile>}
    if ! load_state "$state"; then
        log "nothing to stop ($state does not exist)"
        return 0
    fi
    if [[ -f $PG_TMPDIR/data/postmaster.pid ]]; then
        # Data is thrown away, so no need to wait for a clean shutdown checkpoint.
        if ! as_server pg_ctl -D "$PG_TMPDIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1; then
            local pid
            pid=$(head -n 1 "$PG_TMPDIR/data/postmaster.pid" 2>/dev/null || true)
            if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
                log "pg_ctl stop failed, killing postmaster $pid"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    fi
    # Guard against a damaged state file pointing rm somewhere it should not.
    case $PG_TMPDIR in
    */trax-pg.*) rm -rf "$PG_TMPDIR" ;;
    *) log "not removing unexpected folder '$PG_TMPDIR'" ;;
    esac
    rm -f "$state"
    log "PostgreSQL on port $PG_PORT stopped and its data removed"
}

cmd_url() {
    local state=${1:?usage: $prog url <statefile>}
    if ! load_state "$state" || ! is_running; then
        die "no server running (state file $state)"
    fi
    echo "$DATABASE_URL"
}

cmd_run() {
    [[ ${1:-} == -- ]] && shift
    [[ $# -gt 0 ]] || die "usage: $prog run -- <command...>"
    local statedir rc
    statedir=$(mktemp -d "${TMPDIR:-/tmp}/trax-pg-state.XXXXXX")
    # shellcheck disable=SC2064  # expand statedir now
    trap "cmd_stop '$statedir/state' || true; rm -rf '$statedir'" EXIT
    # Turn signals into an exit so the EXIT trap runs; 128+n like the shell would.
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    DATABASE_URL=$(cmd_start "$statedir/state")
    export DATABASE_URL
    set +e
    "$@"
    rc=$?
    set -e
    return "$rc"
}

case ${1:-} in
start | stop | url)
    cmd=$1
    shift
    "cmd_$cmd" "$@"
    ;;
run)
    shift
    cmd_run "$@"
    ;;
bindir)
    find_bindir
    ;;
*)
    sed -n '2,16s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac
