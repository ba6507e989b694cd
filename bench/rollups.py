"""Benchmark: the manager's rollup fold, and the rollup reads of the console, on a long history.

    .venv/bin/python bench/rollups.py [--sizes 100000,1000000] [--per-cycle 1000] [--cycles 10]
        [--trains 20] [--rate 23] [--runs 5] [--explain]

Against the PostgreSQL server in DATABASE_URL, it creates a scratch database
(``trax_bench_rollups`` unless ``--database``), migrates it, runs, and drops it; it refuses a
scratch database that already holds runs unless ``--reset``. SQLite: ``--allow-sqlite`` (a
scratch file; the history is inserted with a recursive CTE instead of generate_series).

For each size (finished runs of history), from an empty database:

1. History: that many finished runs, ``--rate`` per minute (23: a million in 30 days), the
   last one a minute ago, of ``--trains`` trains, 90 % completed, 8 % failed, 2 % cancelled,
   half with their work entry; VACUUM ANALYZE. The rate is fixed, so the last hour and the last
   day look the same at every size: only the length of the history changes.
2. Backfill: the first fold of a deployment that has that history (``rollup_fold`` until
   caught up, batches of 10,000 runs; minute buckets for the last 7 days only, as the manager
   does), timed; VACUUM ANALYZE.
3. Cycles: ``--cycles`` times, ``--per-cycle`` runs finish (each with its work entry, their
   end times spread since the last fold), then the manager's ``fold_rollups`` step runs,
   timed: wall clock, statements, their SQL time. It is asserted to fold exactly those runs.
   The settle margin is 0 here (it only decides which runs wait; the cost is the same).
4. Reads: ``rollup_series`` over the last hour (minute buckets), the last day (minute and hour
   buckets) and the last 30 days (hour buckets), for all trains and for one;
   ``rollup_by_train`` over the last day (hour buckets) and the last hour (minute buckets):
   median of ``--runs`` calls each.

``--explain`` prints EXPLAIN ANALYZE of one cycle's fold statement (rolled back) and of the
reads' statements. The fold's cost should follow the runs per cycle and the reads' the buckets
asked for, neither the history. This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
TRAIN = "bench.train_"


def sizes(value: str) -> list[int]:
    return [positive_int(part) for part in value.split(",")]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=sizes, default=[100_000, 1_000_000], help="runs of history, comma-separated"
    )
    parser.add_argument("--per-cycle", type=positive_int, default=1000, help="runs per cycle")
    parser.add_argument("--cycles", type=positive_int, default=10, help="timed fold cycles")
    parser.add_argument("--trains", type=positive_int, default=20, help="train names")
    parser.add_argument("--rate", type=positive_int, default=23, help="history runs per minute")
    parser.add_argument("--runs", type=positive_int, default=5, help="timed calls per read")
    parser.add_argument("--database", default="trax_bench_rollups", help="scratch database name")
    parser.add_argument("--in-place", action="store_true", help="use DATABASE_URL's database")
    parser.add_argument("--reset", action="store_true", help="empty a database with runs")
    parser.add_argument("--allow-sqlite", action="store_true", help="run on a scratch SQLite")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the statements")
    return parser.parse_args()


# ── the scratch database ─────────────────────────────────────────────────────────────────────


# ── SQL helpers ──────────────────────────────────────────────────────────────────────────────


def sql(statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    from django.db import connections

    from trax.store import run_records_alias

    with connections[run_records_alias()].cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def vendor() -> str:
    from django.db import connections

    from trax.store import run_records_alias

    return str(connections[run_records_alias()].vendor)


def analyze() -> None:
    sql("VACUUM ANALYZE" if vendor() == "postgresql" else "ANALYZE")


def empty() -> None:
    for table in ("trax_run_rollup", "trax_run_rollup_watermark", "trax_metadata"):
        sql(f"DELETE FROM {table}")
    sql("DELETE FROM trax_work_queue")


_RUN_COLUMNS = (
    "name, external_id, executor, train_state, created_at, scheduled_time, start_time, end_time, "
    "input, failure_junction, failure_exception, failure_reason, stack_trace, attempt, "
    "cancellation_requested, cancel_reason, currently_running_junction, host_name, "
    "host_environment, host_instance_id, host_labels, work_queue_id"
)


def insert_history(runs: int, trains: int, rate: int) -> float:
    """``runs`` finished runs, ``rate`` a minute, the last a minute ago; half with a work
    entry (the even ones: queued 1 s before they were made, no scheduled time), the others
    scheduled up to 1.2 s before they started. Returns the seconds it took."""
    started = time.perf_counter()
    params = {"runs": runs, "spacing": 60.0 / rate, "trains": trains}
    if vendor() != "postgresql":
        insert_history_sqlite(params)
        return time.perf_counter() - started
    times = (
        "LATERAL (SELECT t, t - make_interval(secs => 0.05 + (g %% 97) * 0.01) AS s FROM ("
        " SELECT STATEMENT_TIMESTAMP()"
        " - make_interval(secs => 60 + (%(runs)s - g) * %(spacing)s) AS t) AS end_time) AS at"
    )
    series = "generate_series(1, %(runs)s) AS g"
    sql(
        "INSERT INTO trax_work_queue (id, external_id, train_name, input, priority, status, "
        "dispatch_attempts, attempt, max_retries, is_explicit_trigger, created_at, "
        "dispatched_at) "
        f"SELECT g, gen_random_uuid(), '{TRAIN}' || (g %% %(trains)s), '{{}}', 0, 'dispatched', "
        f"0, 1, 0, false, s - interval '2 s', s - interval '1 s' "
        f"FROM {series}, {times} WHERE g %% 2 = 0",
        params,
    )
    sql(
        f"INSERT INTO trax_metadata (id, {_RUN_COLUMNS}) "
        f"SELECT g, '{TRAIN}' || (g %% %(trains)s), gen_random_uuid(), 'bench', "
        "CASE WHEN g %% 50 = 0 THEN 'cancelled' WHEN g %% 12 = 0 THEN 'failed' "
        "ELSE 'completed' END, s - interval '1 s', "
        "CASE WHEN g %% 2 = 1 THEN s - make_interval(secs => (g %% 13) * 0.1) END, s, t, "
        "'{}', '', '', '', '', 1, false, '', '', '', '', '', '{}', "
        "CASE WHEN g %% 2 = 0 THEN g END "
        f"FROM {series}, {times}",
        params,
    )
    sql("SELECT setval(pg_get_serial_sequence('trax_metadata', 'id'), %s)", [runs + 1])
    sql("SELECT setval(pg_get_serial_sequence('trax_work_queue', 'id'), %s)", [runs + 1])
    return time.perf_counter() - started


def insert_history_sqlite(params: dict[str, Any]) -> None:
    """The same on SQLite, simpler: no work entries, started when made, ran 0 s."""
    end = (
        "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'now', "
        "'-' || (60 + (%(runs)s - g) * %(spacing)s) || ' seconds')"
    )
    sql(
        "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %(runs)s) "
        f"INSERT INTO trax_metadata (id, {_RUN_COLUMNS}) "
        f"SELECT g, '{TRAIN}' || (g %% %(trains)s), lower(hex(randomblob(16))), 'bench', "
        "CASE WHEN g %% 50 = 0 THEN 'cancelled' WHEN g %% 12 = 0 THEN 'failed' "
        f"ELSE 'completed' END, {end}, NULL, {end}, {end}, "
        "'{}', '', '', '', '', 1, 0, '', '', '', '', '', '{}', NULL FROM s",
        params,
    )


def finish_cycle_runs(count: int, trains: int, since: datetime) -> None:
    """``count`` runs finished between ``since`` and now, each with its work entry."""
    if vendor() == "postgresql":
        sql(
            "WITH entries AS ("
            " INSERT INTO trax_work_queue (external_id, train_name, input, priority, status,"
            " dispatch_attempts, attempt, max_retries, is_explicit_trigger, created_at,"
            " dispatched_at)"
            f" SELECT gen_random_uuid(), '{TRAIN}' || (g %% %(trains)s), '{{}}', 0, 'dispatched',"
            " 0, 1, 0, false, %(since)s, %(since)s FROM generate_series(1, %(n)s) AS g"
            " RETURNING id, train_name"
            "), numbered AS ("
            " SELECT id, train_name, row_number() OVER (ORDER BY id) AS g FROM entries"
            ") "
            f"INSERT INTO trax_metadata ({_RUN_COLUMNS}) "
            "SELECT train_name, gen_random_uuid(), 'bench', "
            "CASE WHEN g %% 50 = 0 THEN 'cancelled' WHEN g %% 12 = 0 THEN 'failed' "
            "ELSE 'completed' END, %(since)s, NULL, %(since)s, "
            "%(since)s + (STATEMENT_TIMESTAMP() - %(since)s) * (g::float8 / %(n)s), "
            "'{}', '', '', '', '', 1, false, '', '', '', '', '', '{}', id "
            "FROM numbered",
            {"n": count, "trains": trains, "since": since},
        )
    else:
        from trax.models import Metadata

        now = database_now()
        step = (now - since) / count
        Metadata.objects.bulk_create(
            [
                Metadata(
                    name=f"{TRAIN}{g % trains}",
                    train_state="completed",
                    input={},
                    created_at=since,
                    start_time=since,
                    end_time=since + step * g,
                )
                for g in range(1, count + 1)
            ]
        )


def database_now() -> datetime:
    from trax.store import database_now as now
    from trax.store import run_records_alias

    return now(run_records_alias())


# ── the measurements ─────────────────────────────────────────────────────────────────────────


@dataclass
class Result:
    history: int
    seed_s: float
    backfill_s: float
    backfill_runs: int
    minute_rows: int
    hour_rows: int
    cycle_ms: list[float] = field(default_factory=list)
    cycle_sql_ms: list[float] = field(default_factory=list)
    cycle_queries: int = 0
    reads: dict[str, list[float]] = field(default_factory=dict)


def backfill(minute_days: float) -> tuple[float, int]:
    from trax.store import rollup_fold, run_records_alias

    started = time.perf_counter()
    total = 0
    minute_since = database_now() - timedelta(days=minute_days)
    while True:
        folded = rollup_fold(
            minute_since=minute_since, settle_seconds=0, max_batches=1000, using=run_records_alias()
        )
        total += folded.runs
        if folded.batches < 1000:
            break
    return time.perf_counter() - started, total


def cycles(result: Result, count: int, per_cycle: int, trains: int, explain: bool) -> None:
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from trax.manager.config import ManagerConfig
    from trax.manager.context import Cycle
    from trax.manager.steps.rollups import fold_rollups
    from trax.store import run_records_alias

    alias = run_records_alias()
    config = ManagerConfig(rollup_settle_seconds=0)
    since = database_now()
    for n in range(count + 1):  # the first is a warm-up
        finish_cycle_runs(per_cycle, trains, since)
        now = database_now()
        if explain and n == count:
            explain_fold(now)
        with CaptureQueriesContext(connections[alias]) as captured:
            started = time.perf_counter()
            folded = fold_rollups(Cycle(now=now, config=config, using=alias))
            elapsed = (time.perf_counter() - started) * 1000
        assert folded.runs == per_cycle, (folded, per_cycle)
        since = database_now()
        if n == 0:
            continue
        result.cycle_ms.append(elapsed)
        result.cycle_sql_ms.append(sum(float(q["time"]) * 1000 for q in captured))
        result.cycle_queries = len(captured.captured_queries)


def explain_fold(now: datetime) -> None:
    """EXPLAIN ANALYZE the fold statement the next cycle will run (rolled back)."""
    from trax.models import RollupWatermark
    from trax.store.queries import query

    if vendor() != "postgresql":
        return
    mark = RollupWatermark.objects.get()
    params = {
        "after_end": mark.folded_end_time,
        "after_id": mark.folded_run_id,
        "before": now,
        "limit": 10_000,
        "minute_since": now - timedelta(days=7),
    }
    print("\n  -- the fold statement of the last cycle (run first on its own, rolled back):")
    print("  " + explain_sql(query("postgresql", "rollup_fold"), params).replace("\n", "\n  "))


READS: list[tuple[str, dict[str, Any]]] = [
    ("series, last hour, minute buckets", {"hours": 1, "bucket": "minute"}),
    ("series, last hour, minute, one train", {"hours": 1, "bucket": "minute", "one": True}),
    ("series, last day, minute buckets", {"hours": 24, "bucket": "minute"}),
    ("series, last day, hour buckets", {"hours": 24, "bucket": "hour"}),
    ("series, last day, hour, one train", {"hours": 24, "bucket": "hour", "one": True}),
    ("series, last 30 days, hour buckets", {"hours": 24 * 30, "bucket": "hour"}),
    ("by train, last hour, minute buckets", {"hours": 1, "bucket": "minute", "trains": True}),
    ("by train, last day, hour buckets", {"hours": 24, "bucket": "hour", "trains": True}),
]


def read_call(spec: dict[str, Any]) -> Callable[[], Any]:
    from trax.store import rollup_by_train, rollup_series

    until = database_now()
    since = until - timedelta(hours=spec["hours"])
    if spec.get("trains"):
        return lambda: rollup_by_train(since, until, bucket=spec["bucket"])
    train = f"{TRAIN}3" if spec.get("one") else None
    return lambda: rollup_series(since, until, bucket=spec["bucket"], train=train)


def reads(result: Result, runs: int, explain: bool) -> None:
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from trax.store import run_records_alias

    for label, spec in READS:
        call = read_call(spec)
        call()  # warm
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            call()
            timings.append((time.perf_counter() - started) * 1000)
        result.reads[label] = timings
        if explain:
            with CaptureQueriesContext(connections[run_records_alias()]) as captured:
                call()
            main = max(captured.captured_queries, key=lambda q: float(q["time"]))["sql"]
            params = None
            if "$1" in main:  # a named query, bound on the server: explain it with its values
                main, params = series_query(spec)
            print(f"\n  -- {label}: {' '.join(main.split())[:160]}...")
            print("  " + explain_sql(main, params).replace("\n", "\n  "))


def series_query(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The named query ``rollup_series`` of a read, with its parameters (PostgreSQL)."""
    from trax.store.queries import query

    width = 60 if spec["bucket"] == "minute" else 3600
    until = database_now()
    since = until - timedelta(hours=spec["hours"])
    first = since.replace(second=0, microsecond=0)
    if width == 3600:
        first = first.replace(minute=0)
    train = f"{TRAIN}3" if spec.get("one") else ""
    params = {"train": train, "width": width, "first": first, "until": until}
    return query("postgresql", "rollup_series"), params


def explain_sql(statement: str, params: Any = None) -> str:
    from django.db import connections, transaction

    from trax.store import run_records_alias

    alias = run_records_alias()
    connection = connections[alias]
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) "
        if connection.vendor == "postgresql"
        else "EXPLAIN QUERY PLAN "
    )
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute(prefix + statement, params)
        rows = cursor.fetchall()
        transaction.set_rollback(True, using=alias)
    return "\n".join(" ".join(str(c) for c in row) for row in rows)


def bench(history: int, args: argparse.Namespace) -> Result:
    from trax.models import RunRollup

    empty()
    seed_s = insert_history(history, args.trains, args.rate)
    analyze()
    backfill_s, backfilled = backfill(minute_days=7)
    assert backfilled == history, (backfilled, history)
    analyze()
    result = Result(
        history=history,
        seed_s=seed_s,
        backfill_s=backfill_s,
        backfill_runs=backfilled,
        minute_rows=RunRollup.objects.filter(bucket_seconds=60).count(),
        hour_rows=RunRollup.objects.filter(bucket_seconds=3600).count(),
    )
    print(
        f"\n{history:,} runs of history: inserted in {seed_s:.1f} s; backfilled in "
        f"{backfill_s:.1f} s ({backfilled / backfill_s:,.0f} runs/s) into "
        f"{result.minute_rows:,} minute and {result.hour_rows:,} hour rollups",
        flush=True,
    )
    cycles(result, args.cycles, args.per_cycle, args.trains, args.explain)
    print(
        f"  fold cycles ({args.per_cycle:,} runs each): "
        + ", ".join(f"{ms:.1f}" for ms in result.cycle_ms)
        + f" ms; {result.cycle_queries} statements",
        flush=True,
    )
    reads(result, args.runs, args.explain)
    return result


def print_tables(results: list[Result], args: argparse.Namespace, server: str) -> None:
    print(
        f"\nrollups ({server}; {args.trains} trains, {args.rate} runs/min of history; "
        f"{args.cycles} fold cycles of {args.per_cycle:,} runs; reads: median of {args.runs})"
    )
    header = f"{'':38}" + "".join(f"{r.history:>18,}" for r in results)
    print(header)
    print("-" * len(header))

    def line(label: str, values: list[str]) -> None:
        print(f"{label:38}" + "".join(f"{v:>18}" for v in values))

    line("backfill, runs/s", [f"{r.backfill_runs / r.backfill_s:,.0f}" for r in results])
    line("rollup rows (minute / hour)", [f"{r.minute_rows:,}/{r.hour_rows:,}" for r in results])
    line("fold cycle p50 ms", [f"{statistics.median(r.cycle_ms):.1f}" for r in results])
    line(
        "fold cycle min / max ms", [f"{min(r.cycle_ms):.1f}/{max(r.cycle_ms):.1f}" for r in results]
    )
    line("fold cycle SQL p50 ms", [f"{statistics.median(r.cycle_sql_ms):.1f}" for r in results])
    line("fold cycle statements", [str(r.cycle_queries) for r in results])
    for label, _ in READS:
        line(label + " ms", [f"{statistics.median(r.reads[label]):.1f}" for r in results])


def main() -> None:
    args = arguments()
    database = bench_database(
        name=args.database,
        in_place=args.in_place,
        allow_sqlite=args.allow_sqlite,
        guard_table="trax_metadata",
        reset=args.reset,
    )
    with database as target:
        setup_django(target)
        from django.core.management import call_command
        from django.db import connections

        from trax.store import run_records_alias

        connections[run_records_alias()].ensure_connection()
        raw = connections[run_records_alias()].connection
        held = args.in_place and holds_rows(raw, "trax_metadata")
        if held and not args.reset:
            refuse("the database already holds runs; pass --reset to empty it")
        call_command("migrate", verbosity=0)
        server = vendor()
        if server == "postgresql":
            server = "PostgreSQL " + sql("SHOW server_version")[0][0]
        results = [bench(history, args) for history in args.sizes]
        print_tables(results, args, server)
        empty()


if __name__ == "__main__":
    main()
