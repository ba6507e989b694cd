"""Benchmark: what one worker process holds: its database connections at several
concurrencies, and its memory (RSS) before and after draining a big backlog.

    .venv/bin/python bench/process_footprint.py [--concurrency 2,8,32,128] [--trains sleep,query]
        [--run-ms 100] [--seconds 2] [--sample-ms 100] [--drain-runs 100000]
        [--drain-concurrency 8] [--only connections,rss] [--settings '{"K": 1}']
        [--keep-logs] [--database trax_bench_footprint]

Against the PostgreSQL server in DATABASE_URL it creates a scratch database
(``trax_bench_footprint`` unless ``--database``), migrates it, runs, and drops it. Every
measurement starts one ``manage.py trax_worker --concurrency N`` process of its own and nothing
else (a one-off run with no cap is written straight to the job queue by the enqueue, so no
dispatcher is needed), with the out-of-the-box TRAX settings (the example project's
``HOST_LABELS`` aside) plus ``--settings``, ``DEBUG=False`` and ``LOG_LEVEL=WARNING``, and the
bench app ``bench/benchapp`` installed (``TRAX_TEST_APPS``), which registers the bench trains.

Connections (``--only connections``): for each train and each concurrency N (``--concurrency``)
a fresh worker; once it registered and idled a heartbeat interval and 0.5 s (5.5 s by default:
its heartbeat thread connects at its first beat), ``ceil(N * --seconds / --run-ms)`` runs are
queued (``trax.enqueue_many``, chunks of 1,000), enough to keep every run thread busy for
about ``--seconds``; the bench samples ``pg_stat_activity`` every ``--sample-ms`` until they all
finished, then 1 s more. The worker's connections are told apart by their
``application_name``: the worker gets ``PGAPPNAME=trax-bench-worker``, and the bench app renames
each connection Django opens to ``trax-bench-worker/<alias>/<thread>`` (one statement per
connection opened; a pooled connection is renamed each time it is lent, so it shows its last
borrower); a connection opened outside Django's wrapper (a LISTEN session) keeps the bare
name. The trains (``--trains``):

- ``sleep``: ``bench.sleep``, one junction that sleeps ``--run-ms`` in Python: touches no
  database (what the worker holds for its own machinery; its run threads may still connect:
  trax re-reads the runtime settings row, on ``default``, in whichever thread finds the
  copy in memory older than 5 s);
- ``query``: ``bench.query``, one junction that runs ``SELECT pg_sleep(--run-ms)`` on the
  ``default`` alias, as a train that reads the application's tables does.

Columns: threads, ``--concurrency``; runs queued; in pr., the most runs in progress at once (N
or more when every thread was busy: a run the worker claimed ahead of a free thread counts too);
then the worker's connections: idle, before any work (the cancel watcher and the completer
connect only once there is work); peak, the most at one sample; steady, the median over the
samples taken while runs were in progress; after, 1 s after the last run finished (what the
worker keeps); proc thr, the process's threads (/proc); failed, runs that did not complete.
Under the table, per alias/thread, the connections idle / at the peak sample / after.

RSS (``--only rss``): one worker with ``--drain-concurrency`` threads (default 8); once it
registered and idled as above, ``--drain-runs`` runs of ``demo.noop`` (the example project's no-op
train) are queued in one ``enqueue_many`` call (one transaction: the worker sees them all at
its commit) and drained. The worker's ``VmRSS`` and ``VmHWM`` (peak RSS) from
``/proc/<pid>/status`` before the enqueue, at each quarter of the drain, right after it and 2 s
later.

``--keep-logs`` keeps the workers' logs (path printed). On this kind of 2-core machine the
default invocation takes about 2 minutes (longer where the ``default`` alias is pooled: the
query train's runs then wait for the pool's connections). This is a benchmark, not a test: it
prints figures and fails only when a measurement could not be made (a worker that does not
start, runs that never finish).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit import (
    Children,
    child_env,
    children,
    empty_tables,
    enqueue_chunks,
    int_list,
    mib,
    migrate,
    positive_int,
    postgresql_url,
    proc_status,
    remove_logs,
    scratch_postgresql,
    server_settings,
    setup_django,
    short,
    sql,
    status_kib,
)

APPS = ("bench.benchapp",)
WORKER_APP = "trax-bench-worker"
TRAINS = {"sleep": "bench.sleep", "query": "bench.query"}
DRAIN_TRAIN = "demo.noop"
CONCURRENCIES = "2,8,32,128"
IDLE_AFTER_HEARTBEAT = 0.5
AFTER_SECONDS = 1.0
SETTLE_SECONDS = 2.0
PARTS = ("connections", "rss")


def choice_list(choices: tuple[str, ...] | list[str]) -> Any:
    def parse(value: str) -> list[str]:
        names = [name.strip() for name in value.split(",")]
        for name in names:
            if name not in choices:
                raise argparse.ArgumentTypeError(f"{name!r} is not one of {', '.join(choices)}")
        return list(dict.fromkeys(names))

    return parse


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--concurrency",
        type=int_list,
        default=int_list(CONCURRENCIES),
        help=f"run threads of the worker, one measurement each (default {CONCURRENCIES})",
    )
    parser.add_argument(
        "--trains",
        type=choice_list(list(TRAINS)),
        default=list(TRAINS),
        help="sleep: no database; query: one pg_sleep query on default",
    )
    parser.add_argument("--run-ms", type=positive_int, default=100, help="how long a run takes")
    parser.add_argument(
        "--seconds",
        type=positive_int,
        default=2,
        help="work queued per measurement: every thread busy for about this long",
    )
    parser.add_argument("--sample-ms", type=positive_int, default=100)
    parser.add_argument("--drain-runs", type=positive_int, default=100_000)
    parser.add_argument("--drain-concurrency", type=positive_int, default=8)
    parser.add_argument("--only", type=choice_list(PARTS), default=list(PARTS), help="parts to run")
    parser.add_argument(
        "--settings",
        type=json.loads,
        default={},
        help="JSON dict of TRAX settings for the worker processes",
    )
    parser.add_argument("--database", default="trax_bench_footprint", help="scratch database")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the workers' logs (path printed)"
    )
    return parser.parse_args()


# ── the worker ───────────────────────────────────────────────────────────────────────────────


def start_worker(group: Children, concurrency: int, settings: dict[str, Any]) -> int:
    """Start a worker; return its pid once its process row exists and it idled a heartbeat
    interval and a little more (its heartbeat thread has connected by then)."""
    from trax.conf import get_settings

    proc = group.start(f"worker-{concurrency}", "trax_worker", "--concurrency", str(concurrency))
    group.wait_until(
        lambda: bool(sql("SELECT 1 FROM trax_worker WHERE pid = %s", [proc.pid])),
        f"the worker (pid {proc.pid}) registering",
    )
    heartbeat = settings.get(
        "HEARTBEAT_INTERVAL_SECONDS", get_settings().HEARTBEAT_INTERVAL_SECONDS
    )
    time.sleep(heartbeat + IDLE_AFTER_HEARTBEAT)
    group.check_alive()
    return proc.pid


def worker_env(url: str, settings: dict[str, Any]) -> dict[str, str]:
    env = child_env(url, settings, app_name=WORKER_APP, apps=APPS)
    env["TRAX_BENCH_LABEL_CONNECTIONS"] = "1"
    return env


# ── 1. connections ───────────────────────────────────────────────────────────────────────────


def worker_connections() -> Counter[str]:
    """The worker's client backends on the scratch database, counted per label
    (``alias/thread``, or what an unnamed one last ran)."""
    rows = sql(
        "SELECT application_name, coalesce(query, '') FROM pg_stat_activity "
        "WHERE datname = current_database() AND backend_type = 'client backend' "
        "AND (application_name = %s OR application_name LIKE %s)",
        [WORKER_APP, WORKER_APP + "/%"],
    )
    labels: Counter[str] = Counter()
    for name, query in rows:
        if name != WORKER_APP:
            labels[name.removeprefix(WORKER_APP + "/")] += 1
        elif query.upper().startswith("LISTEN"):
            labels[f"(raw) {' '.join(query.split()).replace(chr(34), '')}"] += 1
        else:
            labels["(raw) other"] += 1
    return labels


@dataclass
class Sample:
    at: float
    labels: Counter[str]
    in_progress: int
    finished: int

    @property
    def total(self) -> int:
        return sum(self.labels.values())


def sample(train: str) -> Sample:
    in_progress, finished = sql(
        "SELECT count(*) FILTER (WHERE train_state = 'in_progress'), "
        "count(*) FILTER (WHERE end_time IS NOT NULL) FROM trax_metadata WHERE name = %s",
        [train],
    )[0]
    return Sample(time.monotonic(), worker_connections(), in_progress, finished)


@dataclass
class Footprint:
    train: str
    concurrency: int
    runs: int
    busy: int
    idle: int
    peak: int
    steady: float
    after: int
    threads: int
    failed: int
    seconds: float
    idle_labels: Counter[str]
    peak_labels: Counter[str]
    after_labels: Counter[str]


def footprint_once(
    train: str, concurrency: int, args: argparse.Namespace, env: dict[str, str], log_dir: Path
) -> Footprint:
    run_seconds = args.run_ms / 1000
    runs = max(2 * concurrency, math.ceil(concurrency * args.seconds / run_seconds))
    interval = args.sample_ms / 1000
    empty_tables()
    with children(env, log_dir) as group:
        pid = start_worker(group, concurrency, args.settings)
        idle = worker_connections()
        threads = int(proc_status(pid).get("Threads", "0"))
        started = time.monotonic()
        enqueue_chunks(train, [{"seconds": run_seconds} for _ in range(runs)])
        samples: list[Sample] = []
        deadline = started + max(60.0, 10 * runs * run_seconds / concurrency)
        last_check = started
        while True:
            now = sample(train)
            samples.append(now)
            threads = max(threads, int(proc_status(pid).get("Threads", "0")))
            if now.finished >= runs:
                break
            if now.at > deadline:
                raise RuntimeError(f"{runs} runs of {train} did not finish in time")
            if now.at - last_check > 1.0:
                group.check_alive()
                last_check = now.at
            time.sleep(interval)
        seconds = samples[-1].at - started
        time.sleep(AFTER_SECONDS)
        after = worker_connections()
        group.check_alive()
    failed = sql(
        "SELECT count(*) FROM trax_metadata WHERE name = %s AND train_state <> 'completed'",
        [train],
    )[0][0]
    busy = [s for s in samples if s.in_progress]
    peak = max([idle, *(s.labels for s in samples), after], key=lambda c: sum(c.values()))
    return Footprint(
        train=train,
        concurrency=concurrency,
        runs=runs,
        busy=max((s.in_progress for s in samples), default=0),
        idle=sum(idle.values()),
        peak=sum(peak.values()),
        steady=statistics.median(s.total for s in busy) if busy else float("nan"),
        after=sum(after.values()),
        threads=threads,
        failed=failed,
        seconds=seconds,
        idle_labels=idle,
        peak_labels=peak,
        after_labels=after,
    )


def bench_connections(
    args: argparse.Namespace, env: dict[str, str], log_dir: Path
) -> list[Footprint]:
    results = []
    for key in args.trains:
        for concurrency in args.concurrency:
            result = footprint_once(TRAINS[key], concurrency, args, env, log_dir)
            results.append(result)
            print(
                f"  {result.train} x {concurrency}: {result.runs:,} runs in "
                f"{result.seconds:.1f} s, {result.busy} at once; connections idle {result.idle}, "
                f"peak {result.peak}, steady {result.steady:g}, after {result.after}",
                flush=True,
            )
    return results


# ── 2. RSS ───────────────────────────────────────────────────────────────────────────────────


@dataclass
class Memory:
    concurrency: int
    runs: int
    seconds: float  # from the enqueue's commit to the last run finished
    enqueue_seconds: float
    before: dict[str, str]  # /proc status before the enqueue
    quarters: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (finished, status)
    drained: dict[str, str] = field(default_factory=dict)  # right after the last run
    settled: dict[str, str] = field(default_factory=dict)  # SETTLE_SECONDS later
    failed: int = 0


def finished_runs() -> int:
    return sql(
        "SELECT count(*) FROM trax_metadata WHERE name = %s AND end_time IS NOT NULL",
        [DRAIN_TRAIN],
    )[0][0]


def bench_rss(args: argparse.Namespace, env: dict[str, str], log_dir: Path) -> Memory:
    import trax

    runs, concurrency = args.drain_runs, args.drain_concurrency
    empty_tables()
    with children(env, log_dir) as group:
        pid = start_worker(group, concurrency, args.settings)
        memory = Memory(concurrency, runs, 0.0, 0.0, proc_status(pid))
        started = time.monotonic()
        trax.enqueue_many(DRAIN_TRAIN, [{"n": i} for i in range(runs)])
        committed = time.monotonic()
        memory.enqueue_seconds = committed - started
        print(f"  {runs:,} runs queued in {memory.enqueue_seconds:.1f} s", flush=True)
        marks = [runs * q // 4 for q in (1, 2, 3)]
        deadline = committed + max(120.0, runs / 100)
        while (done := finished_runs()) < runs:
            status = proc_status(pid)
            while marks and done >= marks[0]:
                memory.quarters.append((done, status))
                marks.pop(0)
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {runs:,} runs did not finish in time")
            group.check_alive()
            time.sleep(0.25)
        memory.drained = proc_status(pid)
        memory.quarters.append((done, memory.drained))
        memory.seconds = time.monotonic() - committed
        time.sleep(SETTLE_SECONDS)
        memory.settled = proc_status(pid)
        group.check_alive()
    memory.failed = sql(
        "SELECT count(*) FROM trax_metadata WHERE name = %s AND train_state <> 'completed'",
        [DRAIN_TRAIN],
    )[0][0]
    return memory


# ── report ───────────────────────────────────────────────────────────────────────────────────


def print_connections(results: list[Footprint], args: argparse.Namespace) -> None:
    print(
        f"\nconnections held by one trax_worker process (runs of {args.run_ms} ms; sampled every "
        f"{args.sample_ms} ms)"
    )
    header = (
        f"{'train':<12} {'threads':>7} {'runs':>6} {'in pr.':>6} {'idle':>5} {'peak':>5} "
        f"{'steady':>6} {'after':>5} {'proc thr':>8} {'failed':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.train:<12} {r.concurrency:>7} {r.runs:>6,} {r.busy:>6} {r.idle:>5} {r.peak:>5} "
            f"{r.steady:>6g} {r.after:>5} {r.threads:>8} {r.failed:>6}"
        )
    print(
        "(threads: --concurrency; in pr.: most runs in progress at once (a run claimed ahead "
        "of a free thread\ncounts too); idle: before any work; peak: most at one sample; steady: "
        "median while runs were\nin progress; after: 1 s after the last run; proc thr: the "
        "process's threads; failed: runs that\ndid not complete)"
    )
    print(
        "\nwhere they come from: connections per alias/thread that opened them (Django's; a "
        "pooled one\nshows its last borrower) or raw (opened past Django), idle/peak sample/after"
    )
    labels = sorted(
        {label for r in results for label in r.idle_labels | r.peak_labels | r.after_labels}
    )
    names = [f"{r.train.removeprefix('bench.')} x{r.concurrency}" for r in results]
    width = max(11, *(len(name) for name in names))
    label_width = max(20, *(len(label) for label in labels))
    header = f"{'':<{label_width}}" + "".join(f" {name:>{width}}" for name in names)
    print(header)
    print("-" * len(header))
    for label in labels:
        cells = [
            f"{r.idle_labels[label]}/{r.peak_labels[label]}/{r.after_labels[label]}"
            for r in results
        ]
        print(f"{label:<{label_width}}" + "".join(f" {cell:>{width}}" for cell in cells))


def print_memory(memory: Memory) -> None:
    print(
        f"\nRSS of one trax_worker --concurrency {memory.concurrency} draining "
        f"{short(memory.runs)} runs of {DRAIN_TRAIN} (MiB; /proc/<pid>/status)"
    )
    rows = [("before (idle)", None, memory.before)]
    rows += [(f"{done:,} finished", done, status) for done, status in memory.quarters]
    rows.append((f"{SETTLE_SECONDS:g} s after the drain", None, memory.settled))
    header = f"{'when':<28} {'VmRSS':>8} {'VmHWM':>8} {'threads':>8}"
    print(header)
    print("-" * len(header))
    for label, _, status in rows:
        print(
            f"{label:<28} {mib(status_kib(status, 'VmRSS')):>8} "
            f"{mib(status_kib(status, 'VmHWM')):>8} {status.get('Threads', '-'):>8}"
        )
    before = status_kib(memory.before, "VmRSS")
    after = status_kib(memory.drained, "VmRSS")
    growth = "-" if before is None or after is None else f"{(after - before) / 1024:+.1f} MiB"
    print(
        f"(drained in {memory.seconds:.1f} s after the enqueue's commit, "
        f"{memory.runs / memory.seconds:,.0f} runs/s; RSS {growth} over the drain; "
        f"{memory.failed} runs did not complete)"
    )


def main() -> None:
    args = arguments()
    loads = [os.getloadavg()[0]]
    url = postgresql_url()
    log_dir = Path(tempfile.mkdtemp(prefix="trax-bench-footprint-"))
    connections: list[Footprint] = []
    memory = None
    with scratch_postgresql(url, args.database) as scratch:
        setup_django(scratch, apps=APPS)
        migrate()
        facts = server_settings("server_version", "max_connections", "fsync")
        env = worker_env(scratch, args.settings)
        if "connections" in args.only:
            print("\nconnections", flush=True)
            connections = bench_connections(args, env, log_dir)
        if "rss" in args.only:
            print(f"\nRSS over a drain of {args.drain_runs:,} runs", flush=True)
            memory = bench_rss(args, env, log_dir)
        empty_tables()
    loads.append(os.getloadavg()[0])
    print("\n" + "=" * 100)
    print(
        f"process footprint: one trax_worker at a time; {os.cpu_count()} CPUs; PostgreSQL "
        f"{facts.get('server_version')} (max_connections={facts.get('max_connections')}, "
        f"fsync={facts.get('fsync')})"
    )
    print(
        f"TRAX settings: out of the box + {json.dumps(args.settings)}; load average (1 min) at "
        f"start, end: {', '.join(f'{load:.1f}' for load in loads)}"
    )
    if connections:
        print_connections(connections, args)
    if memory is not None:
        print_memory(memory)
    if args.keep_logs:
        print(f"\nworker logs: {log_dir}")
    else:
        remove_logs(log_dir)


if __name__ == "__main__":
    main()
