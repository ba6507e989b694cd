"""Benchmark: one-off no-op runs through the queue — enqueue rate, end-to-end drain, latency.

    .venv/bin/python bench/queue_throughput.py [--jobs 10000] [--concurrency 4,8,16]
        [--repeat 3] [--latency-jobs 200] [--latency-concurrency 4]
        [--only enqueue,drain,latency] [--settings '{"DISPATCH_BATCH_SIZE": 500}']
        [--analyze] [--hold SECONDS] [--keep-logs] [--database trax_bench_queue]

Against the PostgreSQL server in DATABASE_URL it creates a scratch database
(``trax_bench_queue`` unless ``--database``), migrates it, runs, and drops it. Child processes
(``manage.py trax_scheduler --no-workers`` and two ``manage.py trax_worker --concurrency C``)
get the scratch database and the benchmark's settings through ``TRAX_SETTINGS_JSON``. The
train is ``demo.noop`` of the example project (one junction returning its input; it logs
nothing).

1. Enqueue rate of ``--jobs`` runs: ``trax.enqueue_many`` in one call and in chunks of 1,000;
   ``trax.enqueue`` one by one (each call its own transaction, as a caller outside
   ``atomic()`` gets), and one by one each inside ``transaction.atomic()``.
2. End-to-end drain with 2 worker processes and a dispatcher, for each concurrency C:
   *backlog*: the runs are queued first, then the dispatcher and the workers start together;
   timed from the moment the later worker registered (its ``trax_worker.started_at``) to the
   last run's ``end_time``. *live*: everything is up and idle; the runs are queued in chunks
   of 1,000 while the workers run; timed from just before the first enqueue to the last
   ``end_time``. Every run must complete exactly once (checked).
3. Latency from the enqueue's commit (``clock_timestamp()`` read right after ``trax.enqueue``
   returns) to the run's ``start_time`` (``in_progress``), database clock, over
   ``--latency-jobs`` sequential jobs with idle workers (enqueue one, wait until it completed,
   next), after a few warm-up jobs that are not counted.

Child settings: no global cap, no junction progress, no log capture, 0.1 s fallback polling
(NOTIFY does the waking), plus ``--settings``; every process runs with ``DEBUG=False`` (the
example project defaults to ``DEBUG=True``, which keeps and formats every query). The tables
are emptied and ``VACUUM ANALYZE``d before each measurement, so the planner sees empty queue
tables, as it would for a queue that is usually empty; ``--analyze`` analyzes a backlog before
the processes start. ``--hold`` pauses after the processes are up (to attach py-spy; pids are
printed). Medians over ``--repeat`` repetitions. This is a benchmark, not a test: it prints
figures and fails only when the runs do not all complete exactly once. On a machine shared
with other work the figures move a lot: the report prints the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
TRAIN = "demo.noop"
CHUNK = 1000
WORKERS = 2
WARMUP_JOBS = 5
READY_TIMEOUT = 60.0
TARGET_DRAIN = 2000.0
TARGET_P50_MS = 10.0
TARGET_P99_MS = 50.0

# What every child process runs with (merged into settings.TRAX by project/settings.py).
CHILD_SETTINGS: dict[str, Any] = {
    "MAX_ACTIVE_JOBS": None,
    "JUNCTION_PROGRESS": False,
    "LOG_CAPTURE": False,
    "DISPATCHER_POLLING_INTERVAL_SECONDS": 0.1,
    "WORKER_POLLING_INTERVAL_SECONDS": 0.1,
}


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0; got {value}")
    return number


def int_list(value: str) -> list[int]:
    return [positive_int(part) for part in value.split(",")]


PARTS = ("enqueue", "drain", "latency")


def part_list(value: str) -> list[str]:
    parts = [part.strip() for part in value.split(",")]
    for part in parts:
        if part not in PARTS:
            raise argparse.ArgumentTypeError(f"{part!r} is not one of {', '.join(PARTS)}")
    return parts


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=positive_int, default=10_000, help="runs per measurement")
    parser.add_argument(
        "--concurrency", type=int_list, default=[4, 8, 16], help="run threads per worker (list)"
    )
    parser.add_argument("--repeat", type=positive_int, default=3, help="repetitions (median)")
    parser.add_argument("--latency-jobs", type=positive_int, default=200)
    parser.add_argument(
        "--latency-concurrency", type=positive_int, default=4, help="run threads per worker"
    )
    parser.add_argument("--only", type=part_list, default=list(PARTS), help="parts to run")
    parser.add_argument("--database", default="trax_bench_queue", help="scratch database name")
    parser.add_argument(
        "--settings",
        type=json.loads,
        default={},
        help="JSON dict of extra TRAX settings for the child processes",
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="ANALYZE after queueing a backlog (default: the planner sees the statistics of the "
        "empty tables, as with a queue that is usually empty)",
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the child processes' logs (path printed)"
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=0.0,
        help="seconds to pause after starting each drain's processes, before timing "
        "(to attach a profiler; backlog mode then times from the end of the pause)",
    )
    return parser.parse_args()


def refuse(message: str) -> None:
    print(f"queue_throughput: {message}", file=sys.stderr)
    raise SystemExit(2)


# ── the scratch database ─────────────────────────────────────────────────────────────────────


@contextmanager
def scratch_postgresql(url: str, name: str) -> Iterator[str]:
    """Create database ``name`` (replacing a leftover one) on the server of ``url``; yield its
    URL; drop it afterwards."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    if parts.path.lstrip("/") == name:
        refuse(f"DATABASE_URL already names {name}; the scratch database must be another one")
    scratch_url = urlunsplit(parts._replace(path=f"/{name}"))
    admin = psycopg.connect(url, autocommit=True)
    try:
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


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "False"  # DEBUG=True would keep and format every query
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def sql(query: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement on the bench's own connection (autocommit)."""
    from django.db import connections

    with connections["default"].cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def empty() -> None:
    """Forget every run and entry (manifests stay); only while no child process runs."""
    sql(
        "TRUNCATE trax_work_queue, trax_metadata, trax_background_job, trax_log, "
        "trax_dead_letter, trax_worker, trax_leader CASCADE"
    )
    sql("VACUUM ANALYZE")


def server_facts() -> dict[str, str]:
    names = ("server_version", "fsync", "synchronous_commit", "shared_buffers", "max_connections")
    rows = sql("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [list(names)])
    return dict(rows)


# ── child processes ──────────────────────────────────────────────────────────────────────────


@dataclass
class Children:
    """The dispatcher and worker processes of one measurement."""

    env: dict[str, str]
    log_dir: Path
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, label: str, *command: str) -> None:
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

    def start_all(self, concurrency: int) -> None:
        self.start("dispatcher", "trax_scheduler", "--no-workers")
        for n in range(WORKERS):
            self.start(f"worker{n}", "trax_worker", "--concurrency", str(concurrency))

    def pids(self) -> dict[str, int]:
        return {label: proc.pid for label, proc in self.procs}

    def check_alive(self) -> None:
        for label, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.log_dir / f"{label}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{label} exited with {proc.returncode}; its log ends:\n{tail}")

    def wait_ready(self) -> None:
        """Until the scheduler leads (so its dispatcher runs) and both workers registered."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            workers = sql("SELECT count(*) FROM trax_worker WHERE kind = 'worker'")[0][0]
            leader = sql("SELECT count(*) FROM trax_leader WHERE expires_at > clock_timestamp()")
            if workers == WORKERS and leader[0][0] >= 1:
                return
            time.sleep(0.05)
        raise RuntimeError("the child processes did not get ready in time")

    def stop(self) -> None:
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


@contextmanager
def children(env: dict[str, str], log_dir: Path) -> Iterator[Children]:
    group = Children(env, log_dir)
    try:
        yield group
    finally:
        group.stop()


def child_env(url: str, settings: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="project.settings",
        TRAX_SETTINGS_JSON=json.dumps(settings),
        LOG_LEVEL="WARNING",
        DEBUG="False",  # as in production: DEBUG=True keeps and formats every query
        PYTHONUNBUFFERED="1",
    )
    return env


# ── 1. enqueue ───────────────────────────────────────────────────────────────────────────────


def inputs(n: int) -> list[dict[str, int]]:
    return [{"n": i} for i in range(n)]


def enqueue_bulk(n: int) -> None:
    import trax

    trax.enqueue_many(TRAIN, inputs(n))


def enqueue_chunks(n: int) -> None:
    import trax

    values = inputs(n)
    for start in range(0, n, CHUNK):
        trax.enqueue_many(TRAIN, values[start : start + CHUNK])


def enqueue_each(n: int) -> None:
    import trax

    for value in inputs(n):
        trax.enqueue(TRAIN, value)


def enqueue_each_atomic(n: int) -> None:
    from django.db import transaction

    import trax

    for value in inputs(n):
        with transaction.atomic():
            trax.enqueue(TRAIN, value)


ENQUEUE_WAYS: list[tuple[str, Callable[[int], None]]] = [
    ("enqueue_many, one call", enqueue_bulk),
    (f"enqueue_many, chunks of {CHUNK:,}", enqueue_chunks),
    ("enqueue one by one (own transaction)", enqueue_each),
    ("enqueue one by one, each in atomic()", enqueue_each_atomic),
]


def bench_enqueue(jobs: int, repeat: int) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {label: [] for label, _ in ENQUEUE_WAYS}
    for _ in range(repeat):
        for label, way in ENQUEUE_WAYS:
            empty()
            started = time.perf_counter()
            way(jobs)
            seconds = time.perf_counter() - started
            count = sql("SELECT count(*) FROM trax_work_queue")[0][0]
            assert count == jobs, (label, count)
            rates[label].append(jobs / seconds)
            print(f"  {label}: {jobs / seconds:,.0f}/s", flush=True)
    empty()
    return rates


# ── 2. drain ─────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Drain:
    rate: float
    seconds: float
    first_start_ms: float  # first run's start_time after t0
    steady_rate: float  # jobs / (last end_time - first start_time)
    claim_size: float  # runs per claim statement (runs sharing a start_time)
    python_cpu_ms: float | None  # CPU of the dispatcher and worker processes per run


def process_cpu_seconds(pids: list[int]) -> float | None:
    """User + system CPU of processes (all their threads), from /proc; None elsewhere."""
    total = 0.0
    try:
        for pid in pids:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return total


def busy() -> bool:
    """Whether a bench entry is still queued or a bench run still pending or in progress: two
    index probes, cheap enough to poll (a count over the runs would load the server)."""
    return sql(
        "SELECT EXISTS (SELECT 1 FROM trax_work_queue WHERE status = 'queued' AND train_name = %s)"
        " OR EXISTS (SELECT 1 FROM trax_metadata WHERE train_state IN ('pending', 'in_progress')"
        " AND name = %s)",
        [TRAIN, TRAIN],
    )[0][0]


def wait_finished(jobs: int, group: Children, *, timeout: float) -> None:
    """Until every bench run finished (the dispatcher turns an entry into its pending run in
    one transaction, so "nothing queued, nothing active" means done)."""
    deadline = time.monotonic() + timeout
    last_check = 0.0
    while busy():
        now = time.monotonic()
        if now > deadline:
            raise RuntimeError(f"the {jobs:,} runs did not finish in {timeout:.0f} s")
        if now - last_check > 1.0:
            group.check_alive()
            last_check = now
        time.sleep(0.05)


def verify(jobs: int) -> None:
    """Every queued entry has exactly one run, and every run completed."""
    runs, entries, completed = sql(
        "SELECT count(*), count(DISTINCT work_queue_id), "
        "count(*) FILTER (WHERE train_state = 'completed') FROM trax_metadata WHERE name = %s",
        [TRAIN],
    )[0]
    jobs_left = sql(
        "SELECT count(*) FROM trax_background_job job JOIN trax_metadata run "
        "ON run.id = job.metadata_id WHERE run.name = %s",
        [TRAIN],
    )[0][0]
    if not (runs == entries == completed == jobs):
        raise RuntimeError(
            f"{jobs:,} queued: {runs:,} runs for {entries:,} entries, {completed:,} completed"
        )
    if jobs_left:
        raise RuntimeError(f"{jobs_left} background jobs left after the drain")


def drain_once(
    jobs: int,
    concurrency: int,
    mode: str,
    env: dict[str, str],
    log_dir: Path,
    hold: float,
    analyze: bool,
) -> Drain:
    from trax.store import database_now

    empty()
    if mode == "backlog":
        enqueue_chunks(jobs)
        if analyze:
            sql("ANALYZE")
    with children(env, log_dir) as group:
        group.start_all(concurrency)
        group.wait_ready()
        if hold:
            print(f"    pids {group.pids()}; holding {hold:g} s", flush=True)
            time.sleep(hold)
        pids = list(group.pids().values())
        if mode == "live":
            time.sleep(0.3)  # let the first cycles settle: idle workers
            cpu_before = process_cpu_seconds(pids)
            t0 = database_now()
            enqueue_chunks(jobs)
        else:
            cpu_before = process_cpu_seconds(pids)
            t0 = sql("SELECT max(started_at) FROM trax_worker WHERE kind = 'worker'")[0][0]
            if hold:
                t0 = database_now()
        wait_finished(jobs, group, timeout=max(120.0, jobs / 20))
        cpu_after = process_cpu_seconds(pids)
        first, last, claims = sql(
            "SELECT min(start_time), max(end_time), count(DISTINCT start_time) "
            "FROM trax_metadata WHERE name = %s",
            [TRAIN],
        )[0]
    verify(jobs)
    seconds = (last - t0).total_seconds()
    return Drain(
        rate=jobs / seconds,
        seconds=seconds,
        first_start_ms=(first - t0).total_seconds() * 1000,
        steady_rate=jobs / (last - first).total_seconds(),
        claim_size=jobs / max(claims, 1),
        python_cpu_ms=None
        if cpu_before is None or cpu_after is None
        else (cpu_after - cpu_before) * 1000 / jobs,
    )


def bench_drain(
    jobs: int,
    concurrencies: list[int],
    repeat: int,
    env: dict[str, str],
    log_dir: Path,
    hold: float,
    analyze: bool,
) -> dict[tuple[str, int], list[Drain]]:
    results: dict[tuple[str, int], list[Drain]] = {}
    for _ in range(repeat):
        for concurrency in concurrencies:
            for mode in ("backlog", "live"):
                drain = drain_once(jobs, concurrency, mode, env, log_dir, hold, analyze)
                results.setdefault((mode, concurrency), []).append(drain)
                print(
                    f"  {mode:7} C={concurrency:<2}: {drain.rate:,.0f} runs/s "
                    f"({drain.seconds:.2f} s; first start +{drain.first_start_ms:.0f} ms; "
                    f"first start to last end {drain.steady_rate:,.0f}/s; "
                    f"{drain.claim_size:.1f} runs per claim)",
                    flush=True,
                )
    empty()
    return results


# ── 3. latency ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Latency:
    to_start_ms: list[float]
    to_end_ms: list[float]
    to_dispatch_ms: list[float]  # commit -> the run's row written by the dispatcher


def latency_once(
    jobs: int, concurrency: int, env: dict[str, str], log_dir: Path, url: str
) -> Latency:
    import psycopg

    import trax
    from trax.events.channels import CAPACITY_FREED

    empty()
    to_start: list[float] = []
    to_end: list[float] = []
    to_dispatch: list[float] = []
    # Woken by the completer's NOTIFY instead of busy-polling the database.
    listener = psycopg.connect(url, autocommit=True)
    listener.execute(f'LISTEN "{CAPACITY_FREED}"')
    try:
        with children(env, log_dir) as group:
            group.start_all(concurrency)
            group.wait_ready()
            time.sleep(0.5)
            for i in range(WARMUP_JOBS + jobs):
                external_id = trax.enqueue(TRAIN, {"n": i})
                committed = sql("SELECT clock_timestamp()")[0][0]
                created, start, end = wait_run(external_id, listener, group)
                if i >= WARMUP_JOBS:
                    to_start.append((start - committed).total_seconds() * 1000)
                    to_end.append((end - committed).total_seconds() * 1000)
                    to_dispatch.append((created - committed).total_seconds() * 1000)
    finally:
        listener.close()
    return Latency(to_start, to_end, to_dispatch)


def wait_run(
    external_id: Any, listener: Any, group: Children
) -> tuple[datetime, datetime, datetime]:
    query = (
        "SELECT m.created_at, m.start_time, m.end_time FROM trax_work_queue w "
        "JOIN trax_metadata m ON m.id = w.metadata_id "
        "WHERE w.external_id = %s AND m.end_time IS NOT NULL"
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for _ in listener.notifies(timeout=0.05, stop_after=1):
            pass
        rows = sql(query, [external_id])
        if rows:
            return rows[0]
    group.check_alive()
    raise RuntimeError(f"run of entry {external_id} did not finish within 30 s")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def bench_latency(
    jobs: int, concurrency: int, repeat: int, env: dict[str, str], log_dir: Path, url: str
) -> list[Latency]:
    results = []
    for _ in range(repeat):
        result = latency_once(jobs, concurrency, env, log_dir, url)
        results.append(result)
        s = result.to_start_ms
        print(
            f"  commit -> in_progress p50 {percentile(s, 50):.1f} ms, p90 "
            f"{percentile(s, 90):.1f}, p99 {percentile(s, 99):.1f}, max {max(s):.1f}; "
            f"-> completed p50 {percentile(result.to_end_ms, 50):.1f} ms; "
            f"-> dispatched p50 {percentile(result.to_dispatch_ms, 50):.1f} ms",
            flush=True,
        )
    empty()
    return results


# ── report ───────────────────────────────────────────────────────────────────────────────────


def median(values: list[float]) -> float:
    return statistics.median(values)


def mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_report(
    args: argparse.Namespace,
    facts: dict[str, str],
    settings: dict[str, Any],
    enqueue: dict[str, list[float]] | None,
    drain: dict[tuple[str, int], list[Drain]] | None,
    latency: list[Latency] | None,
) -> None:
    print("\n" + "=" * 78)
    print(
        f"queue throughput: {args.jobs:,} one-off runs of {TRAIN}; medians of {args.repeat} "
        f"repetition(s); {os.cpu_count()} CPUs"
    )
    print(
        f"PostgreSQL {facts.get('server_version')} (fsync={facts.get('fsync')}, "
        f"synchronous_commit={facts.get('synchronous_commit')}, "
        f"shared_buffers={facts.get('shared_buffers')}x8kB)"
    )
    print(f"child TRAX settings: {json.dumps(settings)} (DEBUG=False, LOG_LEVEL=WARNING)")
    print(
        "load average (1 min) at start, end: "
        + ", ".join(f"{load:.1f}" for load in args.loads)
        + " (anything above ~0.5 at the start is other work sharing the machine)"
    )
    print(f"processes: 1 x trax_scheduler --no-workers, {WORKERS} x trax_worker --concurrency C")
    if enqueue:
        print(f"\n{'enqueue':<40} {'runs/s':>10} {'min':>10} {'max':>10}")
        print("-" * 73)
        for label, rates in enqueue.items():
            print(f"{label:<40} {median(rates):>10,.0f} {min(rates):>10,.0f} {max(rates):>10,.0f}")
    if drain:
        print(
            f"\ndrain, end to end ({WORKERS} workers + dispatcher; backlog: queued first, timed "
            "from the workers' start; live: queued in chunks while all runs)"
        )
        header = (
            f"{'mode':<8} {'C':>3} {'runs/s':>8} {'min':>7} {'max':>7} {'seconds':>8} "
            f"{'1st start':>10} {'steady/s':>9} {'per claim':>9} {'py CPU/run':>11}  "
            f"target {TARGET_DRAIN:,.0f}/s"
        )
        print(header)
        print("-" * len(header))
        for (mode, concurrency), runs in sorted(drain.items()):
            rates = [r.rate for r in runs]
            rate = median(rates)
            cpus = [r.python_cpu_ms for r in runs if r.python_cpu_ms is not None]
            cpu = f"{median(cpus):.2f} ms" if cpus else "-"
            print(
                f"{mode:<8} {concurrency:>3} {rate:>8,.0f} {min(rates):>7,.0f} "
                f"{max(rates):>7,.0f} {median([r.seconds for r in runs]):>8.2f} "
                f"{median([r.first_start_ms for r in runs]):>8.0f}ms "
                f"{median([r.steady_rate for r in runs]):>9,.0f} "
                f"{median([r.claim_size for r in runs]):>9.1f} {cpu:>11}  "
                f"{mark(rate >= TARGET_DRAIN)}"
            )
        print(
            "(1st start: first run's start after t0; steady/s: runs / (last end - first start); "
            "per claim: runs started by one claim statement; py CPU/run: dispatcher + workers)"
        )
    if latency:
        starts = [lat.to_start_ms for lat in latency]
        ends = [lat.to_end_ms for lat in latency]
        p50 = median([percentile(s, 50) for s in starts])
        p90 = median([percentile(s, 90) for s in starts])
        p99 = median([percentile(s, 99) for s in starts])
        worst = median([max(s) for s in starts])
        print(
            f"\nlatency, enqueue commit -> in_progress ({args.latency_jobs} sequential jobs, idle "
            f"workers, C={args.latency_concurrency}; medians over repetitions)"
        )
        dispatched = [lat.to_dispatch_ms for lat in latency]
        print(
            f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}   of which -> dispatched "
            "p50 ms   -> completed p50 ms"
        )
        print("-" * 87)
        print(
            f"{p50:>8.1f} {p90:>8.1f} {p99:>8.1f} {worst:>8.1f}   "
            f"{median([percentile(d, 50) for d in dispatched]):>25.1f}   "
            f"{median([percentile(e, 50) for e in ends]):>16.1f}"
        )
        print(
            f"targets: p50 < {TARGET_P50_MS:g} ms {mark(p50 < TARGET_P50_MS)}; "
            f"p99 < {TARGET_P99_MS:g} ms {mark(p99 < TARGET_P99_MS)}"
        )


def main() -> None:
    args = arguments()
    args.loads = [os.getloadavg()[0]]
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        refuse("DATABASE_URL must point at PostgreSQL")
    settings = {**CHILD_SETTINGS, **args.settings}
    log_dir = Path(tempfile.mkdtemp(prefix="trax-bench-queue-"))
    enqueue = drain = latency = None
    with scratch_postgresql(url, args.database) as scratch:
        setup_django(scratch)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        facts = server_facts()
        env = child_env(scratch, settings)
        if "enqueue" in args.only:
            print(f"\nenqueue {args.jobs:,} runs", flush=True)
            enqueue = bench_enqueue(args.jobs, args.repeat)
        if "drain" in args.only:
            print(f"\ndrain {args.jobs:,} runs with {WORKERS} workers + dispatcher", flush=True)
            drain = bench_drain(
                args.jobs, args.concurrency, args.repeat, env, log_dir, args.hold, args.analyze
            )
        if "latency" in args.only:
            print(f"\nlatency over {args.latency_jobs} sequential jobs", flush=True)
            latency = bench_latency(
                args.latency_jobs, args.latency_concurrency, args.repeat, env, log_dir, scratch
            )
        args.loads.append(os.getloadavg()[0])
        print_report(args, facts, settings, enqueue, drain, latency)
    if args.keep_logs:
        print(f"\nchild logs: {log_dir}")
    else:
        for log in log_dir.iterdir():
            log.unlink()
        log_dir.rmdir()


if __name__ == "__main__":
    main()
