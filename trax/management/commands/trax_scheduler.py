"""``manage.py trax_scheduler``: the leader-elected manager and dispatcher, with local workers
unless ``--no-workers`` (DESIGN.md §6)."""

from __future__ import annotations

import os
import socket
import sys
import threading
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trax.conf import effective_settings, get_settings
from trax.dispatch.service import DispatcherService
from trax.management.arguments import positive_seconds, process_name, thread_count
from trax.management.commands.trax_worker import build_worker_pool
from trax.management.signals import install_stop_signals
from trax.manager.service import ManagerService, ManagerServiceConfig
from trax.metrics.exporter import add_exporter_arguments, start_exporter
from trax.models import WorkerKind
from trax.registry import registry
from trax.scheduling.declarations import schedules
from trax.scheduling.errors import ScheduleError
from trax.services import Service, Supervisor
from trax.store import run_records_alias
from trax.workers.heartbeat import Heartbeat, register, unregister
from trax.workers.identity import worker_id_for


class Command(BaseCommand):
    help = (
        "Run the trax scheduler: sync the declared schedules, run the manifest manager and the "
        "dispatcher while this process holds the leader lease, and local workers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="Run a single manager cycle and one dispatcher cycle (if this process can "
            "lead) and exit; no workers.",
        )
        parser.add_argument(
            "--interval",
            type=positive_seconds,
            default=None,
            help="Seconds between manager cycles (default: TRAX MANAGER_POLLING_INTERVAL_SECONDS).",
        )
        parser.add_argument(
            "--name",
            type=process_name,
            default=None,
            help="This process's name in the leader lease (default: host, pid and a suffix).",
        )
        parser.add_argument(
            "--no-workers", action="store_true", help="Do not run workers in this process."
        )
        parser.add_argument(
            "--concurrency",
            type=thread_count,
            default=None,
            help="Local worker threads (default: TRAX WORKER_CONCURRENCY, else the CPU count).",
        )
        add_exporter_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        conf = get_settings()
        using = run_records_alias()
        interval = options["interval"] or conf.MANAGER_POLLING_INTERVAL_SECONDS
        holder = options["name"] or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        try:
            config = ManagerServiceConfig(
                holder=holder,
                polling_interval_seconds=interval,
                # At least three of this process's intervals, whatever the setting says.
                lease_seconds=max(conf.LEADER_LEASE_SECONDS or 0, interval * 3),
                using=using,
                # --interval fixes it; otherwise the runtime settings row may change it live.
                interval_source=None
                if options["interval"]
                else lambda: effective_settings(using=using).MANAGER_POLLING_INTERVAL_SECONDS,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        try:  # refuse bad declarations before anything starts, not in the leader's first sync
            schedules.check()
            unregistered = sorted(
                {d.train_name for d in schedules.declarations if d.train_name not in registry}
            )
            if unregistered:
                raise ScheduleError(f"these trains are not registered: {', '.join(unregistered)}")
        except ScheduleError as error:
            raise CommandError(f"The declared schedules are invalid: {error}") from None
        manager = ManagerService(config, declarations=schedules.declarations)
        dispatcher = DispatcherService(
            polling_interval=lambda: (
                effective_settings(using=using).DISPATCHER_POLLING_INTERVAL_SECONDS
            ),
            is_leader=lambda: manager.is_leader,
            config=None,  # read per cycle, so runtime settings apply at once
            using=using,
        )
        if options["once"]:
            try:
                report = manager.run_once()
                dispatched = dispatcher.run_once() if report is not None else None
            finally:
                manager.release()
            if report is None:
                self.stdout.write("Another scheduler holds the lease; nothing ran.")
            else:
                self.stdout.write(f"Cycle done: {report}; dispatch: {dispatched}")
            return

        start_exporter(options, self.stdout.write)
        services = [
            Service("manager", manager.run_forever, manager.stop),
            Service("dispatcher", dispatcher.run_forever, dispatcher.stop),
        ]
        pool = None
        if not options["no_workers"]:
            pool = build_worker_pool(
                concurrency=options["concurrency"],
                name=None,
                shutdown_timeout=None,
                say=self.stdout.write,
                kind="scheduler",
            )
            services.append(Service("workers", pool.run_forever, pool.stop))
        else:
            services.append(self._heartbeat_service(using, conf))
        supervisor = Supervisor(services)
        stop = install_stop_signals(lambda: None, self.stdout.write)
        self.stdout.write(
            f"trax scheduler {holder} running (manager every {interval:g} s, dispatcher, "
            f"{'local workers' if pool else 'no workers'}); Ctrl+C stops."
        )
        supervisor.start()
        supervisor.wait(stop)
        if supervisor.failed:
            self.stderr.write(f"Stopped because {', '.join(supervisor.failed)} died.")
            sys.exit(1)
        self.stdout.write("trax scheduler stopped.")

    def _heartbeat_service(self, using: str, conf: Any) -> Service:
        """Without local workers the scheduler still keeps its process row fresh."""
        worker_id = worker_id_for(None)
        stopping = threading.Event()
        beat = Heartbeat(
            worker_id=worker_id,
            interval=conf.HEARTBEAT_INTERVAL_SECONDS,
            lease_seconds=conf.LEASE_SECONDS,
            in_flight=lambda: [],
            using=using,
            stopping=stopping,
            kind=WorkerKind.SCHEDULER,
        )

        def run() -> None:
            register(worker_id, kind=WorkerKind.SCHEDULER, concurrency=0, using=using)
            beat.start()
            stopping.wait()
            beat.join(5)
            # This thread's connection idled since the registration: a restart may have
            # killed it, so the row goes on a fresh one.
            unregister(worker_id, using=using)

        return Service("heartbeat", run, stopping.set)
