"""Benchmark: one manifest manager cycle with many enabled interval manifests, few of them due.

    .venv/bin/python bench/manager_cycle.py [--runs 5] [--sizes 10000:1000,100000:1000] [--explain]

Against the PostgreSQL server in DATABASE_URL, it creates a scratch database (``trax_bench``
unless ``--database``), migrates it, runs, and drops it. It refuses SQLite unless
``--allow-sqlite`` (then it uses a scratch file), and refuses a scratch database that already
holds manifests unless ``--reset`` (which empties it first). ``--in-place`` uses the database of
DATABASE_URL itself instead of a scratch one (same refusal, same ``--reset``).

For each size (total manifests : due manifests), in 10 groups, it bulk-inserts the manifests
(the due ones with ``next_run_at`` in the past, the rest an hour ahead), ANALYZEs, and times
``run_manager_cycle(now)``: median/min/max of ``--runs`` cycles, resetting the due manifests
and deleting their queued entries between runs; then one more cycle counts its queries and
lists its slowest statements (with ``--explain``, EXPLAIN ANALYZE of its SELECTs on
``trax_manifest`` and of its ``--top`` slowest other SELECTs, run against the state before
that cycle and rolled back). The cycle's cost should grow
with the due manifests, not with the total. This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchkit import (
    bench_database,
    holds_rows,
    positive_int,
    refuse,
    setup_django,
)

BASE_DIR = Path(__file__).resolve().parent.parent
GROUPS = 10
BATCH = 5000
SHOWN_STATEMENTS = 6


def parse_sizes(value: str) -> list[tuple[int, int]]:
    sizes = []
    for part in value.split(","):
        try:
            total, due = (int(n) for n in part.split(":"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not TOTAL:DUE") from None
        if not 0 < due <= total:
            raise argparse.ArgumentTypeError(f"{part!r}: need 0 < DUE <= TOTAL")
        sizes.append((total, due))
    return sizes


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=positive_int, default=5, help="timed cycles per size")
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=parse_sizes("10000:1000,100000:1000"),
        help="TOTAL:DUE pairs, comma-separated (default 10000:1000,100000:1000)",
    )
    parser.add_argument("--database", default="trax_bench", help="scratch database name")
    parser.add_argument("--in-place", action="store_true", help="use DATABASE_URL's database")
    parser.add_argument("--reset", action="store_true", help="empty a database with manifests")
    parser.add_argument("--allow-sqlite", action="store_true", help="run on a scratch SQLite")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE slow queries")
    parser.add_argument(
        "--top", type=positive_int, default=3, help="other SELECTs to explain (slowest first)"
    )
    return parser.parse_args()


# ── the scratch database ─────────────────────────────────────────────────────────────────────


# ── the benchmark ────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Result:
    total: int
    due: int
    cycle_ms: list[float]  # wall clock
    cpu_ms: list[float]  # this process's CPU time (Python), which a busy machine blurs less
    queries: int
    statements_ms: float  # sum of the statement times of the counted cycle (client side)
    queued: int
    slowest: list[tuple[float, str]]


def empty(alias: str) -> None:
    from django.db import connections

    with connections[alias].cursor() as cursor:
        for table in ("trax_work_queue", "trax_dead_letter", "trax_metadata", "trax_manifest"):
            cursor.execute(f"DELETE FROM {table}")
        cursor.execute("DELETE FROM trax_manifest_group")


def load(total: int, due: int, now: datetime, alias: str) -> list[int]:
    """``total`` enabled interval manifests in ``GROUPS`` groups, ``due`` of them due."""
    from trax.models import Manifest, ManifestGroup, ScheduleType

    empty(alias)
    groups = ManifestGroup.objects.using(alias).bulk_create(
        [ManifestGroup(name=f"bench-{n}") for n in range(GROUPS)]
    )
    for start in range(0, total, BATCH):
        Manifest.objects.using(alias).bulk_create(
            [
                Manifest(
                    external_id=f"bench-{i:07d}",
                    train_name="demo.greet",
                    input={"name": f"n{i}"},
                    schedule_type=ScheduleType.INTERVAL,
                    interval_seconds=300,
                    group=groups[i % GROUPS],
                    is_enabled=True,
                    # Spread the due ones evenly through the table.
                    next_run_at=now - timedelta(seconds=10)
                    if i % (total // due) == 0 and i // (total // due) < due
                    else now + timedelta(hours=1),
                )
                for i in range(start, min(start + BATCH, total))
            ],
            batch_size=BATCH,
        )
    analyze(alias)
    due_ids = list(
        Manifest.objects.using(alias).filter(next_run_at__lte=now).values_list("id", flat=True)
    )
    assert len(due_ids) == due, (len(due_ids), due)
    return due_ids


def analyze(alias: str) -> None:
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute("ANALYZE")


def reset_due(due_ids: list[int], now: datetime, alias: str) -> None:
    from django.db import connections

    from trax.models import Manifest

    with connections[alias].cursor() as cursor:
        cursor.execute("DELETE FROM trax_work_queue")
    Manifest.objects.using(alias).filter(id__in=due_ids).update(
        next_run_at=now - timedelta(seconds=10)
    )


def bench(total: int, due: int, runs: int) -> Result:
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from trax.manager.cycle import run_manager_cycle
    from trax.models import WorkQueue
    from trax.store import database_now, run_records_alias

    alias = run_records_alias()
    due_ids = load(total, due, database_now(alias), alias)
    timings, cpu = [], []
    queued = 0
    for _ in range(runs):
        now = database_now(alias)
        reset_due(due_ids, now, alias)
        started, started_cpu = time.perf_counter(), time.process_time()
        report = run_manager_cycle(now, using=alias)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        queued = WorkQueue.objects.using(alias).count()
        assert report.occurrences_queued == due == queued, (report, due, queued)
    now = database_now(alias)
    reset_due(due_ids, now, alias)
    aliases = {alias, "default"}
    with contextmanagers([CaptureQueriesContext(connections[a]) for a in aliases]) as captures:
        run_manager_cycle(now, using=alias)
    # Back to the state before that cycle, so that EXPLAIN sees the due manifests.
    reset_due(due_ids, now, alias)
    captured = [q for capture in captures for q in capture.captured_queries]
    slowest = sorted(((float(q["time"]) * 1000, q["sql"]) for q in captured), reverse=True)
    statements_ms = sum(ms for ms, _ in slowest)
    return Result(total, due, timings, cpu, len(captured), statements_ms, queued, slowest)


@contextmanager
def contextmanagers(managers: list[Any]) -> Iterator[list[Any]]:
    for manager in managers:
        manager.__enter__()
    try:
        yield managers
    finally:
        for manager in reversed(managers):
            manager.__exit__(None, None, None)


def summary(sql: str) -> str:
    """``SELECT trax_manifest`` / ``UPDATE trax_manifest``: the verb and the first table."""
    words = sql.replace('"', "").split()
    verb = words[0].upper() if words else "?"
    for keyword in ("FROM", "INTO", "UPDATE"):
        upper = [w.upper() for w in words]
        if keyword in upper[: 200 if verb == "SELECT" else 3]:
            index = upper.index(keyword)
            if index + 1 < len(words):
                return f"{verb} {words[index + 1]}"
    return verb


def explain(sql: str, alias: str) -> str:
    """EXPLAIN ANALYZE ``sql`` (PostgreSQL; rolled back) or EXPLAIN QUERY PLAN (SQLite)."""
    from django.db import connections, transaction

    connection = connections[alias]
    if connection.vendor != "postgresql":
        prefix = "EXPLAIN QUERY PLAN "
    else:
        prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) "
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute(prefix + sql)
        rows = cursor.fetchall()
        transaction.set_rollback(True, using=alias)
    return "\n".join(" ".join(str(c) for c in row) for row in rows)


def print_table(results: list[Result], vendor: str, runs: int) -> None:
    print(f"\nmanager cycle ({vendor}; {runs} timed cycles per size; {GROUPS} groups)")
    header = (
        f"{'total':>8} {'due':>6} {'p50 ms':>8} {'min ms':>8} {'max ms':>8} "
        f"{'cpu p50':>8} {'SQL ms':>7} {'queries':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.total:>8,} {r.due:>6,} {statistics.median(r.cycle_ms):>8.1f} "
            f"{min(r.cycle_ms):>8.1f} {max(r.cycle_ms):>8.1f} "
            f"{statistics.median(r.cpu_ms):>8.1f} {r.statements_ms:>7.1f} {r.queries:>8}"
        )
    print(
        "p50/min/max: wall clock of one cycle; cpu p50: this process's CPU time in it; "
        "SQL ms: the sum of its statements' times (one counted cycle)."
    )


def main() -> None:
    args = arguments()
    database = bench_database(
        name=args.database,
        in_place=args.in_place,
        allow_sqlite=args.allow_sqlite,
        guard_table="trax_manifest",
        reset=args.reset,
    )
    with database as target:
        setup_django(target)
        from django.db import connections

        from trax.store import run_records_alias

        alias = run_records_alias()
        connections[alias].ensure_connection()
        if (
            args.in_place
            and holds_rows(connections[alias].connection, "trax_manifest")
            and not args.reset
        ):
            refuse("the database already holds manifests; pass --reset to empty it")
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        results = []
        for total, due in args.sizes:
            result = bench(total, due, args.runs)
            results.append(result)
            print(
                f"\n{total:,} manifests, {due:,} due: cycles "
                + ", ".join(f"{ms:.1f}" for ms in result.cycle_ms)
                + f" ms; {result.queries} queries; slowest statements of one cycle:",
                flush=True,
            )
            for ms, sql in result.slowest[:SHOWN_STATEMENTS]:
                print(f"  {ms:7.1f} ms  {summary(sql)}")
            if args.explain:
                # Every SELECT on trax_manifest (what could grow with the total), and the
                # slowest other SELECTs.
                selects = [q for q in result.slowest if q[1].lstrip().upper().startswith("SELECT")]
                on_manifests = [q for q in selects if summary(q[1]) == "SELECT trax_manifest"]
                others = [q for q in selects if q not in on_manifests][: args.top]
                for ms, sql in on_manifests + others:
                    print(f"\n  -- {ms:.1f} ms: {sql[:200]}{'...' if len(sql) > 200 else ''}")
                    print("  " + explain(sql, alias).replace("\n", "\n  "))
        print_table(results, connections[alias].vendor, args.runs)
        empty(alias)


if __name__ == "__main__":
    main()
