"""``manage.py trax_scheduler``: the leader-elected manifest manager of DESIGN.md §6."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import uuid
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trax.conf import get_settings
from trax.manager.service import ManagerService, ManagerServiceConfig
from trax.scheduling.declarations import schedules
from trax.store import run_records_alias


def positive_seconds(value: str) -> float:
    """argparse type: a number of seconds > 0."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0; got {value}")
    return seconds


class Command(BaseCommand):
    help = (
        "Run the trax scheduler: sync the declared schedules, then run the manifest manager "
        "cycle on its polling interval while this process holds the leader lease."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="Run a single cycle (if this process can lead) and exit.",
        )
        parser.add_argument(
            "--interval",
            type=positive_seconds,
            default=None,
            help="Seconds between cycles (default: TRAX MANAGER_POLLING_INTERVAL_SECONDS).",
        )
        parser.add_argument(
            "--name",
            default=None,
            help="This process's name in the leader lease (default: host, pid and a suffix).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        conf = get_settings()
        interval = options["interval"] or conf.MANAGER_POLLING_INTERVAL_SECONDS
        holder = options["name"] or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        try:
            config = ManagerServiceConfig(
                holder=holder,
                polling_interval_seconds=interval,
                lease_seconds=max(conf.leader_lease_seconds, interval * 3),
                using=run_records_alias(),
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        schedules.check()
        service = ManagerService(config, declarations=schedules.declarations)
        if options["once"]:
            try:
                report = service.run_once()
            finally:
                service.release()
            if report is None:
                self.stdout.write("Another scheduler holds the lease; nothing ran.")
            else:
                self.stdout.write(f"Cycle done: {report}")
            return

        def stop(signum: int, frame: FrameType | None) -> None:
            self.stdout.write(f"Received {signal.Signals(signum).name}; stopping after this cycle.")
            service.stop()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"trax scheduler {holder} running every {interval:g} s (Ctrl+C stops).")
        service.run_forever()
        self.stdout.write("trax scheduler stopped.")
