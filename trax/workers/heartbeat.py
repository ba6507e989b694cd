"""The heartbeat: keeps this process's row fresh and renews the leases of its claims, on a
thread of its own so a busy run never lets a lease expire."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import DatabaseError, connections

from trax.store.workers import worker_heartbeat

logger = logging.getLogger("trax.workers")


class Heartbeat:
    def __init__(
        self,
        *,
        worker_id: str,
        interval: float,
        lease_seconds: float,
        runs_in_flight: Callable[[], int],
        using: str,
        stopping: threading.Event,
        kind: str = "worker",
        concurrency: int = 0,
    ) -> None:
        self.kind = kind
        self.concurrency = concurrency
        self.worker_id = worker_id
        self.interval = interval
        self.lease_seconds = lease_seconds
        self.runs_in_flight = runs_in_flight
        self.using = using
        self.stopping = stopping
        self._thread = threading.Thread(target=self._run, name="trax-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def beat(self) -> int:
        """One heartbeat; returns how many claims were renewed."""
        return worker_heartbeat(
            worker_id=self.worker_id,
            runs_in_flight=self.runs_in_flight(),
            lease_seconds=self.lease_seconds,
            using=self.using,
            kind=self.kind,
            concurrency=self.concurrency,
        )

    def _run(self) -> None:
        try:
            while not self.stopping.wait(self.interval):
                try:
                    self.beat()
                except DatabaseError:
                    logger.warning("heartbeat failed; retrying next interval", exc_info=True)
                    connections[self.using].close()
        finally:
            connections.close_all()
