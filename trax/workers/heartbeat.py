"""The heartbeat: keeps this process's row fresh and renews the leases of its claims, on a
thread of its own so a busy run never lets a lease expire; between beats it publishes the
junctions runs entered (at most one statement a second, none while nothing changed), so an open
console shows progress within a second; and the row's removal on a clean exit."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from django.db import Error, connections

from trax.reconnect import drop_connections, on_fresh_connection
from trax.store import worker_heartbeat, worker_register, worker_unregister

logger = logging.getLogger("trax.workers")


class Heartbeat:
    def __init__(
        self,
        *,
        worker_id: str,
        interval: float,
        lease_seconds: float,
        in_flight: Callable[[], list[int]],
        using: str,
        stopping: threading.Event,
        kind: str = "worker",
        concurrency: int = 0,
        on_lost: Callable[[set[int]], None] | None = None,
        publish: Callable[[], object] | None = None,
        publish_interval: float = 1.0,
    ) -> None:
        self.kind = kind
        self.concurrency = concurrency
        self.worker_id = worker_id
        self.interval = interval
        self.lease_seconds = lease_seconds
        self.in_flight = in_flight
        self.on_lost = on_lost
        self.publish = publish
        self.publish_interval = min(publish_interval, interval)
        self.using = using
        self.stopping = stopping
        self._thread = threading.Thread(target=self._run, name="trax-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def beat(self) -> set[int]:
        """One heartbeat; returns the runs whose claims were renewed. In-flight runs whose claim
        is gone (reaped after a stall) are handed to ``on_lost``: they must stop, as another
        worker may run them now."""
        in_flight = self.in_flight()
        renewed = worker_heartbeat(
            worker_id=self.worker_id,
            in_flight=in_flight,
            lease_seconds=self.lease_seconds,
            using=self.using,
            kind=self.kind,
            concurrency=self.concurrency,
        )
        lost = set(in_flight) - renewed - set(self._finished_since(in_flight))
        if lost and self.on_lost is not None:
            self.on_lost(lost)
        if self.publish is not None:
            self.publish()  # the junctions runs entered since the last beat
        return renewed

    def _tick(self, next_beat: float) -> float:
        """How long to wait: until the next beat, or the next publish if that comes first."""
        until_beat = max(next_beat - time.monotonic(), 0.0)
        return until_beat if self.publish is None else min(until_beat, self.publish_interval)

    def _finished_since(self, ids: list[int]) -> list[int]:
        """Runs that left flight while the beat ran (their completion removed the claim)."""
        still = set(self.in_flight())
        return [run_id for run_id in ids if run_id not in still]

    def _run(self) -> None:
        try:
            next_beat = time.monotonic() + self.interval
            while not self.stopping.wait(self._tick(next_beat)):
                try:
                    if time.monotonic() >= next_beat:
                        next_beat = time.monotonic() + self.interval
                        self.beat()
                    elif self.publish is not None:
                        self.publish()
                except Exception:
                    # Whatever failed (a server restart killed the connection, a bug), a
                    # heartbeat that stopped would let the leases of live runs lapse.
                    logger.warning(
                        "heartbeat failed; retrying on a fresh connection next interval",
                        exc_info=True,
                    )
                    drop_connections()
        finally:
            connections.close_all()


def register(worker_id: str, *, kind: str, concurrency: int, using: str) -> bool:
    """Create this process's row at start; False, with a warning, when the server is away (the
    first beat it answers creates the row)."""
    try:
        worker_register(
            worker_id=worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            kind=kind,
            concurrency=concurrency,
            using=using,
        )
    except Error:
        logger.warning("could not register %s; its heartbeat will", worker_id, exc_info=True)
        drop_connections()
        return False
    return True


def unregister(worker_id: str, *, using: str) -> bool:
    """Remove this process's row on a clean exit, on a fresh connection if the one it has died
    (a server restart while it idled); False, with a warning, when the server stays away (the
    leader prunes the row once it is stale)."""
    try:
        on_fresh_connection(lambda: worker_unregister(worker_id, using=using))
    except Error:
        logger.warning("could not remove the worker row of %s", worker_id, exc_info=True)
        return False
    return True
