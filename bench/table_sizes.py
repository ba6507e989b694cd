"""Benchmark: how big the trax tables grow with finished one-off runs, with run retention off
and on.

    .venv/bin/python bench/table_sizes.py [--runs 100000] [--train logged|noop]
        [--concurrency 8] [--retention 60] [--max-cycles 1000] [--settings '{"K": 1}']
        [--keep-logs] [--database trax_bench_sizes]

Against the PostgreSQL server in DATABASE_URL it creates a scratch database
(``trax_bench_sizes`` unless ``--database``), migrates it, runs, and drops it.

1. Retention off: ``--runs`` one-off runs are queued (one ``trax.enqueue_many`` call: each is
   written straight to the job queue, so no dispatcher is needed) and drained by one real
   ``manage.py trax_worker --concurrency C`` (``--concurrency``, default 8), with the
   out-of-the-box TRAX settings plus ``METADATA_RETENTION_SECONDS=None`` (retention
   explicitly off) and ``--settings``, ``DEBUG=False`` and ``LOG_LEVEL=WARNING``; the worker
   stops. Then, for each ``trax_*`` table, its rows (``count(*)``) and
   ``pg_total_relation_size`` (heap, indexes and TOAST).
2. Retention on: with ``METADATA_RETENTION_SECONDS=--retention`` (default 60 s), manager
   cycles (``trax.testing.run_scheduler_cycle``, in this process) run at the database's time
   plus the retention plus a minute, so every run of step 1 is past it, one after the other
   until a cycle changes no row count of the tables; then the rows and sizes right after the
   cycles, the sizes after a plain ``VACUUM`` (which frees the dead rows' space for reuse but
   seldom gives it back to the file system) and after ``VACUUM FULL`` (which rewrites each
   table with only its live rows: what retention keeps).

The train (``--train``): ``logged`` (default), ``bench.logged`` of the bench app
``bench/benchapp``: one junction that logs one WARNING line, which log capture (on by default)
keeps in ``trax_log``; ``noop``, ``demo.noop`` of the example project (no log line).
Autovacuum runs as the server is configured (on by default), so the sizes right after the
drain and after the cycles may already include some of its work. Only tables that held a row
at some point are listed; the others are summed in one line. ``--keep-logs`` keeps the
worker's log (path printed). On this kind of 2-core machine the default invocation takes about
2 minutes. This is a benchmark, not a test: it prints figures and fails only when a measurement
could not be made (a worker that does not start, runs that never finish, cycles that never
settle).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from benchkit import (
    APP_NAME,
    child_env,
    children,
    empty_tables,
    migrate,
    positive_int,
    postgresql_url,
    remove_logs,
    scratch_postgresql,
    server_settings,
    setup_django,
    short,
    sql,
)

APPS = ("bench.benchapp",)
TRAINS = {"logged": "bench.logged", "noop": "demo.noop"}
OFF = {"METADATA_RETENTION_SECONDS": None}
STAGES = ("off", "cycles", "vacuum", "full")
SHOWN_BYTES = 128 * 1024


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=positive_int, default=100_000, help="one-off runs")
    parser.add_argument("--train", choices=list(TRAINS), default="logged")
    parser.add_argument(
        "--concurrency", type=positive_int, default=8, help="run threads of the worker"
    )
    parser.add_argument(
        "--retention",
        type=positive_int,
        default=60,
        help="METADATA_RETENTION_SECONDS of the retention-on part",
    )
    parser.add_argument(
        "--max-cycles", type=positive_int, default=1000, help="give up after this many cycles"
    )
    parser.add_argument(
        "--settings",
        type=json.loads,
        default={},
        help="JSON dict of TRAX settings for the worker and the cycles",
    )
    parser.add_argument("--database", default="trax_bench_sizes", help="scratch database")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the worker's log (path printed)"
    )
    return parser.parse_args()


# ── the tables ───────────────────────────────────────────────────────────────────────────────


def tables() -> list[str]:
    rows = sql(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE %s "
        "ORDER BY c.relname",
        ["trax\\_%"],
    )
    return [row[0] for row in rows]


def row_counts(names: list[str]) -> dict[str, int]:
    return {name: sql(f'SELECT count(*) FROM "{name}"')[0][0] for name in names}


def sizes(names: list[str]) -> dict[str, int]:
    """pg_total_relation_size of each table, in bytes."""
    return {
        name: sql("SELECT pg_total_relation_size(%s::regclass)", [f'"{name}"'])[0][0]
        for name in names
    }


def flushed_writes(names: list[str]) -> dict[str, tuple[int, int]]:
    """(rows updated, rows deleted) of each table since the server started, as
    pg_stat_user_tables counts them once every backend flushed: the bench's other connections
    are closed first (a backend flushes its counts when it exits; this one is told to)."""
    from django.db import connections

    for connection in connections.all():
        if connection.alias != "default":
            connection.close()
    wait_own_backends_gone()
    sql("SELECT pg_stat_force_next_flush()")
    sql("SELECT pg_stat_clear_snapshot()")
    rows = sql(
        "SELECT relname, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relname = ANY(%s)",
        [names],
    )
    return {name: (updated, deleted) for name, updated, deleted in rows}


def wait_own_backends_gone(timeout: float = 10.0) -> None:
    """Until this process has no backend but the one of its ``default`` connection."""
    deadline = time.monotonic() + timeout
    while sql(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
        "AND pid <> pg_backend_pid()",
        [APP_NAME],
    )[0][0]:
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)


@dataclass
class Tables:
    names: list[str]
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # stage -> table -> rows
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)  # stage -> table -> bytes
    # table -> (rows updated, rows deleted) by the cycles
    writes: dict[str, tuple[int, int]] = field(default_factory=dict)

    def measure(self, stage: str, *, count: bool = True) -> None:
        if count:
            self.rows[stage] = row_counts(self.names)
        self.sizes[stage] = sizes(self.names)


# ── 1. the drain ─────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Drain:
    enqueue_seconds: float
    seconds: float
    failed: int


def finished(train: str) -> int:
    return sql(
        "SELECT count(*) FROM trax_metadata WHERE name = %s AND end_time IS NOT NULL", [train]
    )[0][0]


def drain(args: argparse.Namespace, url: str, log_dir: Path) -> Drain:
    import trax

    train, runs = TRAINS[args.train], args.runs
    empty_tables()
    started = time.monotonic()
    trax.enqueue_many(train, [{"seconds": 0.0} for _ in range(runs)])
    enqueued = time.monotonic()
    print(f"  {runs:,} runs of {train} queued in {enqueued - started:.1f} s", flush=True)
    env = child_env(url, {**OFF, **args.settings}, apps=APPS)
    with children(env, log_dir) as group:
        group.start("worker", "trax_worker", "--concurrency", str(args.concurrency))
        begun = time.monotonic()
        group.wait_until(
            lambda: finished(train) >= runs, f"the {runs:,} runs finishing", max(120.0, runs / 50)
        )
        seconds = time.monotonic() - begun
        codes = group.stop()
    if codes.get("worker"):
        raise RuntimeError(f"the worker exited with {codes['worker']}")
    failed = sql(
        "SELECT count(*) FROM trax_metadata WHERE name = %s AND train_state <> 'completed'",
        [train],
    )[0][0]
    print(f"  drained in {seconds:.1f} s ({runs / seconds:,.0f} runs/s, worker start included)")
    return Drain(enqueued - started, seconds, failed)


# ── 2. retention ─────────────────────────────────────────────────────────────────────────────


@dataclass
class Cleanup:
    cycles: int = 0
    seconds: float = 0.0
    runs_deleted: list[int] = field(default_factory=list)  # per cycle, as the cycle reported


def clean_up(args: argparse.Namespace, names: list[str]) -> Cleanup:
    """Manager cycles with retention on, at a time past it for every run, until a cycle
    changes no row count."""
    from django.conf import settings
    from django.test import override_settings

    from trax.store import database_now
    from trax.testing import run_scheduler_cycle

    result = Cleanup()
    retention = args.retention
    with override_settings(
        TRAX={**settings.TRAX, **args.settings, "METADATA_RETENTION_SECONDS": retention}
    ):
        at = database_now() + timedelta(seconds=retention + 60)
        before = row_counts(names)
        while True:
            if result.cycles >= args.max_cycles:
                raise RuntimeError(f"{args.max_cycles} cycles still deleted rows")
            started = time.perf_counter()
            report = run_scheduler_cycle(at)
            result.seconds += time.perf_counter() - started
            result.cycles += 1
            result.runs_deleted.append(getattr(report, "runs_deleted", 0))
            after = row_counts(names)
            if after == before:
                return result
            before = after


# ── report ───────────────────────────────────────────────────────────────────────────────────


def print_tables(data: Tables) -> None:
    def stage_rows(stage: str, names: list[str]) -> str:
        return f"{sum(data.rows[stage][n] for n in names):>9,}"

    def stage_size(stage: str, names: list[str]) -> str:
        return f"{sum(data.sizes[stage][n] for n in names) / 1024:>9,.0f}"

    def line(label: str, names: list[str]) -> str:
        updated = sum(data.writes.get(n, (0, 0))[0] for n in names)
        deleted = sum(data.writes.get(n, (0, 0))[1] for n in names)
        return (
            f"{label:<22} {stage_rows('off', names)} {stage_size('off', names)} │ "
            f"{updated:>9,} {deleted:>9,} {stage_rows('cycles', names)} "
            + " ".join(stage_size(stage, names) for stage in STAGES[1:])
        )

    # Tables that held rows or grew past an empty table's few pages; the rest on one line.
    shown = [
        n
        for n in data.names
        if data.rows["off"][n] or data.rows["cycles"][n] or data.sizes["off"][n] >= SHOWN_BYTES
    ]
    others = [n for n in data.names if n not in shown]
    header = (
        f"{'table':<22} {'rows':>9} {'KiB':>9} │ {'updated':>9} {'deleted':>9} {'rows':>9} "
        f"{'KiB':>9} {'VACUUM':>9} {'V. FULL':>9}"
    )
    print(f"{'':<22} {'retention off':>19} │ {'retention on: the cycles wrote, left':>59}")
    print(header)
    print("─" * len(header))
    for name in shown:
        print(line(name, [name]))
    if others:
        print(line(f"{len(others)} other tables", others))
    print("─" * len(header))
    print(line("all trax_* tables", data.names))
    print(
        "(KiB: pg_total_relation_size, heap + indexes + TOAST; rows: count(*); retention off: "
        "right after the\ndrain; retention on: rows updated and deleted by the cycles "
        "(pg_stat_user_tables), then rows\nand KiB right after the cycles, KiB after a plain "
        "VACUUM and after VACUUM FULL)"
    )


def main() -> None:
    args = arguments()
    loads = [os.getloadavg()[0]]
    url = postgresql_url()
    log_dir = Path(tempfile.mkdtemp(prefix="trax-bench-sizes-"))
    with scratch_postgresql(url, args.database) as scratch:
        setup_django(scratch, {**OFF, **args.settings}, apps=APPS)
        migrate()
        facts = server_settings("server_version", "autovacuum", "fsync")
        data = Tables(tables())
        print(f"\nretention off: {args.runs:,} runs", flush=True)
        drained = drain(args, scratch, log_dir)
        data.measure("off")
        print(f"\nretention on: METADATA_RETENTION_SECONDS={args.retention}", flush=True)
        before = flushed_writes(data.names)
        cleanup = clean_up(args, data.names)
        after = flushed_writes(data.names)
        data.writes = {
            name: (after[name][0] - before[name][0], after[name][1] - before[name][1])
            for name in data.names
        }
        data.measure("cycles")
        sql("VACUUM")
        data.measure("vacuum", count=False)
        sql("VACUUM FULL")
        data.measure("full", count=False)
        empty_tables()
    loads.append(os.getloadavg()[0])
    train = TRAINS[args.train]
    print("\n" + "=" * 100)
    print(
        f"table sizes: {short(args.runs)} one-off runs of {train}; {os.cpu_count()} CPUs; "
        f"PostgreSQL {facts.get('server_version')} (autovacuum={facts.get('autovacuum')}, "
        f"fsync={facts.get('fsync')}); load average (1 min) at start, end: "
        + ", ".join(f"{load:.1f}" for load in loads)
    )
    print(
        f"drain: 1 x trax_worker --concurrency {args.concurrency}, TRAX settings out of the box + "
        f"{json.dumps({**OFF, **args.settings})}: enqueue {drained.enqueue_seconds:.1f} s, "
        f"drain {drained.seconds:.1f} s, {drained.failed} runs did not complete"
    )
    deleted = [n for n in cleanup.runs_deleted if n]
    print(
        f"retention on: METADATA_RETENTION_SECONDS={args.retention}, {cleanup.cycles} manager "
        f"cycles at now + {args.retention + 60} s until one changed no row count, "
        f"{cleanup.seconds:.1f} s in all; runs deleted per cycle: "
        + (", ".join(f"{n:,}" for n in deleted) if deleted else "none")
    )
    print()
    print_tables(data)
    if args.keep_logs:
        print(f"\nworker log: {log_dir}")
    else:
        remove_logs(log_dir)


if __name__ == "__main__":
    main()
