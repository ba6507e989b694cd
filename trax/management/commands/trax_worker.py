"""``manage.py trax_worker``: a standalone worker process (DESIGN.md §6)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trax.conf import get_settings
from trax.management.arguments import non_negative_seconds, process_name, thread_count
from trax.management.signals import install_stop_signals
from trax.metrics.exporter import add_exporter_arguments, start_exporter
from trax.store import run_records_alias
from trax.workers.identity import WorkerNameInUse, recover_named_worker, worker_id_for
from trax.workers.pool import WorkerConfig, WorkerPool


class Command(BaseCommand):
    help = (
        "Run a trax worker: claim background jobs and run them on N threads until SIGINT or "
        "SIGTERM (a second signal exits at once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--concurrency",
            type=thread_count,
            default=None,
            help="Runs at once (default: TRAX WORKER_CONCURRENCY, else the CPU count).",
        )
        parser.add_argument(
            "--name",
            type=process_name,
            default=None,
            help="A stable name: a restart recovers its previous life's runs at once "
            "(refused while the earlier holder is alive). Default: unique per process.",
        )
        parser.add_argument(
            "--shutdown-timeout",
            type=non_negative_seconds,
            default=None,
            help="Grace for in-flight runs on stop (default: TRAX SHUTDOWN_TIMEOUT_SECONDS).",
        )
        add_exporter_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        start_exporter(options, self.stdout.write)
        pool = build_worker_pool(
            concurrency=options["concurrency"],
            name=options["name"],
            shutdown_timeout=options["shutdown_timeout"],
            say=self.stdout.write,
        )
        install_stop_signals(pool.stop, self.stdout.write)
        pool.run_forever()
        report = pool.last_report
        if report is not None and report.still_running:
            self.stderr.write(
                f"{report.still_running} run(s) did not stop; their leases will expire and the "
                "reaper will fail them as WorkerLost."
            )
            sys.exit(1)
        self.stdout.write(f"Worker stopped: {report}")


def build_worker_pool(
    *,
    concurrency: int | None,
    name: str | None,
    shutdown_timeout: float | None,
    say: Any,
    kind: str = "worker",
) -> WorkerPool:
    """A worker pool from settings and command options (named workers recover first)."""
    conf = get_settings()
    using = run_records_alias()
    worker_id = worker_id_for(name)
    try:
        config = WorkerConfig(
            worker_id=worker_id,
            concurrency=concurrency or conf.worker_concurrency,
            lease_seconds=conf.LEASE_SECONDS,
            heartbeat_interval=conf.HEARTBEAT_INTERVAL_SECONDS,
            polling_interval=conf.WORKER_POLLING_INTERVAL_SECONDS,
            cancel_check_interval=conf.CANCEL_CHECK_INTERVAL_SECONDS,
            shutdown_timeout=(
                conf.SHUTDOWN_TIMEOUT_SECONDS if shutdown_timeout is None else shutdown_timeout
            ),
            completion_batch_size=conf.COMPLETION_BATCH_SIZE,
            using=using,
            kind=kind,
        )
    except ValueError as error:
        raise CommandError(str(error)) from None
    if name is not None:
        try:
            recovered = recover_named_worker(
                worker_id, lease_seconds=conf.LEASE_SECONDS, using=using
            )
        except WorkerNameInUse as error:
            raise CommandError(str(error)) from None
        if recovered.failed or recovered.released:
            say(
                f"Recovered {worker_id}'s previous life: {recovered.failed} run(s) failed as "
                f"WorkerLost (retried by the rules), {recovered.released} released."
            )
    say(f"trax worker {worker_id}: {config.concurrency} run threads (Ctrl+C stops).")
    return WorkerPool(config)
