"""What the benchmarks in bench/ share: a scratch database, Django set up on it, the bench's
own marked statements, the ``manage.py`` processes they start and what /proc says of them.

A package, not a ``bench/*.py`` script, so ``make bench`` (which runs every ``bench/*.py``)
does not run it; a script imports it as ``benchkit`` (its own folder is first on ``sys.path``).
Its sibling ``bench/benchapp`` is the Django app that child processes install for the bench
trains (``child_env(apps=...)``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# application_name of the bench's own connections, and a comment in every statement the bench
# runs itself, so counts can leave them out.
APP_NAME = "trax-bench"
MARK = "/* trax-bench */"
READY_TIMEOUT = 60.0


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0; got {value}")
    return number


def int_list(value: str) -> list[int]:
    """``2,8,32`` -> [2, 8, 32] (each > 0, duplicates dropped, order kept)."""
    return list(dict.fromkeys(positive_int(part.strip()) for part in value.split(",")))


def refuse(message: str) -> NoReturn:
    print(f"{Path(sys.argv[0]).stem}: {message}", file=sys.stderr)
    raise SystemExit(2)


def postgresql_url() -> str:
    """DATABASE_URL, which must name a PostgreSQL server (else the script refuses)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        refuse("DATABASE_URL must point at PostgreSQL")
    return url


def short(number: int) -> str:
    """10000 -> 10k, 1000000 -> 1M, 1500 -> 1,500."""
    for size, suffix in ((1_000_000, "M"), (1000, "k")):
        if number >= size and number % size == 0:
            return f"{number // size:,}{suffix}"
    return f"{number:,}"


# ── the scratch database and Django ──────────────────────────────────────────────────────────


@contextmanager
def scratch_postgresql(
    url: str, name: str, *, guard_table: str | None = None, reset: bool = True
) -> Iterator[str]:
    """Create database ``name`` on the server of ``url``, replacing a leftover one; yield its
    URL; drop it afterwards. With ``guard_table`` and not ``reset``, a leftover database whose
    table of that name holds rows is refused instead (someone's data, not a bench's)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    if parts.path.lstrip("/") == name:
        refuse(f"DATABASE_URL already names {name}; the scratch database must be another one")
    scratch_url = urlunsplit(parts._replace(path=f"/{name}"))
    admin = psycopg.connect(url, autocommit=True)
    try:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and guard_table and not reset:
            with psycopg.connect(scratch_url) as probe:
                if holds_rows(probe, guard_table):
                    refuse(f"database {name} already holds {guard_table} rows; pass --reset")
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield scratch_url
        finally:
            from django.db import connections

            connections.close_all()
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        admin.close()


@contextmanager
def scratch_sqlite() -> Iterator[str]:
    """A scratch SQLite file's URL, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="trax-bench-") as folder:
        yield f"sqlite:///{folder}/bench.sqlite3"


def bench_database(
    *, name: str, in_place: bool, allow_sqlite: bool, guard_table: str, reset: bool
) -> AbstractContextManager[str]:
    """Where a bench runs, from DATABASE_URL: that database itself (``in_place``), a scratch
    database ``name`` on its PostgreSQL server, or a scratch SQLite file (``allow_sqlite``)."""
    url = os.environ.get("DATABASE_URL", "")
    is_postgresql = url.startswith(("postgres://", "postgresql://"))
    if not is_postgresql and not allow_sqlite:
        refuse("DATABASE_URL must point at PostgreSQL (or pass --allow-sqlite)")
    if in_place:
        return nullcontext(url)
    if is_postgresql:
        return scratch_postgresql(url, name, guard_table=guard_table, reset=reset)
    return scratch_sqlite()


def holds_rows(connection: Any, table: str) -> bool:
    """Whether ``table`` exists on a DB-API ``connection`` (psycopg or sqlite3) and has rows."""
    cursor = connection.cursor()
    cursor.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_name = %s"
        if connection.__class__.__module__.startswith("psycopg")
        else "SELECT 1 FROM sqlite_master WHERE name = ?",
        [table],
    )
    if cursor.fetchone() is None:
        return False
    cursor.execute(f"SELECT 1 FROM {table} LIMIT 1")
    return cursor.fetchone() is not None


def setup_django(
    url: str, trax_settings: dict[str, Any] | None = None, apps: tuple[str, ...] = ()
) -> None:
    """Django in this process on ``url``, as in production (DEBUG off), its connections named
    ``APP_NAME``; ``trax_settings`` merged into ``settings.TRAX`` (``TRAX_SETTINGS_JSON``),
    ``apps`` installed (``TRAX_TEST_APPS``: the bench trains must be registered here too, or
    they cannot be queued)."""
    os.environ.setdefault("SECRET_KEY", "django-insecure-bench-only-never-deploy-this-key")
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "False"  # DEBUG=True would keep and format every query
    os.environ["PGAPPNAME"] = APP_NAME  # libpq: the bench's connections' application_name
    if trax_settings:
        os.environ["TRAX_SETTINGS_JSON"] = json.dumps(trax_settings)
    if apps:
        os.environ["TRAX_TEST_APPS"] = ",".join(apps)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Own:
    """How many statements the bench ran through ``sql`` (each its own transaction)."""

    count = 0


def sql(query: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement on the bench's own connection (autocommit), marked as the bench's."""
    from django.db import connections

    Own.count += 1
    with connections["default"].cursor() as cursor:
        cursor.execute(f"{query} {MARK}", params)
        return cursor.fetchall() if cursor.description else []


def empty_tables() -> None:
    """Forget every run, entry, log, dead letter and process row (manifests stay); VACUUM
    ANALYZE. Only while no child process runs."""
    sql(
        "TRUNCATE trax_work_queue, trax_metadata, trax_background_job, trax_log, "
        "trax_dead_letter, trax_worker, trax_leader CASCADE"
    )
    sql("VACUUM ANALYZE")


def enqueue_chunks(train: str, inputs: list[Any], chunk: int = 1000) -> None:
    """``trax.enqueue_many`` in chunks of ``chunk`` (each its own transaction)."""
    import trax

    for start in range(0, len(inputs), chunk):
        trax.enqueue_many(train, inputs[start : start + chunk])


def server_settings(*names: str) -> dict[str, str]:
    rows = sql("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [list(names)])
    return dict(rows)


# ── child processes ──────────────────────────────────────────────────────────────────────────


def child_env(
    url: str,
    settings: dict[str, Any],
    *,
    app_name: str | None = None,
    apps: tuple[str, ...] = (),
) -> dict[str, str]:
    """The environment of a ``manage.py`` child: the scratch database, ``settings`` merged into
    ``settings.TRAX``, DEBUG off, warnings only; its connections named ``app_name`` (libpq's
    default otherwise) and ``apps`` installed (``TRAX_TEST_APPS``)."""
    env = dict(os.environ)
    env.pop("PGAPPNAME", None)  # the bench's own connections only
    env.pop("TRAX_TEST_APPS", None)
    if app_name:
        env["PGAPPNAME"] = app_name
    if apps:
        env["TRAX_TEST_APPS"] = ",".join(apps)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="project.settings",
        TRAX_SETTINGS_JSON=json.dumps(settings),
        LOG_LEVEL="WARNING",
        DEBUG="False",  # as in production: DEBUG=True keeps and formats every query
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class Children:
    """``manage.py`` processes of one measurement, each logging to ``<log_dir>/<label>.log``."""

    env: dict[str, str]
    log_dir: Path
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, label: str, *command: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{label}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), *command],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append((label, proc))
        return proc

    def pids(self) -> dict[str, int]:
        return {label: proc.pid for label, proc in self.procs}

    def check_alive(self) -> None:
        for label, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.log_dir / f"{label}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{label} exited with {proc.returncode}; its log ends:\n{tail}")

    def wait_until(
        self, ready: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT
    ) -> None:
        """Until ``ready()``, checking that every process is still alive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{what} did not happen within {timeout:g} s")

    def wait_workers(self, count: int) -> None:
        """Until ``count`` worker processes registered (their ``trax_worker`` rows)."""
        self.wait_until(
            lambda: sql("SELECT count(*) FROM trax_worker WHERE kind = 'worker'")[0][0] >= count,
            f"{count} worker(s) registering",
        )

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every process (a graceful stop) and wait; killed after 20 s. Returns each
        one's exit code."""
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for label, proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            codes[label] = proc.returncode
        self.procs.clear()
        return codes


@contextmanager
def children(env: dict[str, str], log_dir: Path, cls: type[Children] = Children) -> Iterator[Any]:
    group = cls(env, log_dir)
    try:
        yield group
    finally:
        group.stop()


def remove_logs(log_dir: Path) -> None:
    for log in log_dir.iterdir():
        log.unlink()
    log_dir.rmdir()


# ── /proc ────────────────────────────────────────────────────────────────────────────────────


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def proc_status(pid: int) -> dict[str, str]:
    """/proc/<pid>/status as a dict (``VmRSS``: "123456 kB", ``Threads``: "12", ...); empty
    when /proc does not show the process."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return {
                key: value.strip()
                for key, _, value in (line.partition(":") for line in status)
                if value
            }
    except OSError:
        return {}


def status_kib(status: dict[str, str], key: str) -> int | None:
    """A ``kB`` figure of ``proc_status`` (``VmRSS``, ``VmHWM``), in KiB; None if absent."""
    value = status.get(key, "")
    return int(value.split()[0]) if value.endswith("kB") else None


def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"
