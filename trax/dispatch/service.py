"""The dispatcher service: runs dispatcher cycles while this process leads, woken at once by
new work and by completions that free capacity, polling as a fallback."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.db import DatabaseError, connections

from trax.dispatch.config import DispatcherConfig
from trax.dispatch.cycle import DispatchReport, run_dispatcher_cycle
from trax.events.channels import CAPACITY_FREED, WORK_QUEUED
from trax.events.listener import Listener

logger = logging.getLogger("trax.dispatch")

MAX_BACKOFF_SECONDS = 30.0


class DispatcherService:
    """Dispatches while ``is_leader()`` says so."""

    def __init__(
        self,
        *,
        polling_interval: float | Callable[[], float],
        is_leader: Callable[[], bool],
        config: DispatcherConfig | None = None,
        using: str = "default",
    ) -> None:
        self._interval = polling_interval
        self.is_leader = is_leader
        self.config = config
        self.using = using
        self.stopping = threading.Event()
        self.listener = Listener([WORK_QUEUED, CAPACITY_FREED], using=using)
        self._held_back = True  # until a cycle says otherwise, freed capacity may matter

    @property
    def polling_interval(self) -> float:
        """The current interval (a callable one is read each time: the runtime settings)."""
        if not callable(self._interval):
            return self._interval
        try:
            return self._interval()
        except Exception:
            logger.warning("could not read the polling interval; using 1 s", exc_info=True)
            return 1.0

    def run_once(self) -> DispatchReport | None:
        """One cycle if leading, else None."""
        if not self.is_leader():
            return None
        return run_dispatcher_cycle(config=self.config, using=self.using)

    def run_forever(self) -> None:
        """Loop until ``stop()``: a full batch runs the next cycle at once; otherwise wait for a
        notification or the polling interval."""
        backoff = self.polling_interval
        try:
            while not self.stopping.is_set():
                try:
                    report = self.run_once()
                    if report is not None:
                        self._held_back = report.waits_for_capacity
                    backoff = self.polling_interval
                except Exception as error:  # a bad entry or submitter must not stop dispatching
                    kind = "database error" if isinstance(error, DatabaseError) else "error"
                    logger.warning(
                        "%s in the dispatcher; retrying in %.1f s", kind, backoff, exc_info=True
                    )
                    connections[self.using].close()
                    self.stopping.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                    continue
                if (
                    report is not None
                    and report.full_batch
                    and report.dispatched
                    and not report.global_cap_reached
                ):
                    continue  # more is waiting
                self._wait_for_work()
        finally:
            self.listener.close()
            connections.close_all()

    def _wait_for_work(self) -> None:
        """Sleep until new work, or freed capacity when a cap held work back, or the poll."""
        began = time.monotonic()
        while not self.stopping.is_set():
            # The interval is read again each second: a runtime change cuts a long wait short.
            remaining = began + self.polling_interval - time.monotonic()
            if remaining <= 0:
                return
            events = self.listener.wait(min(remaining, 1.0))
            if any(e.channel != CAPACITY_FREED or self._held_back for e in events):
                return
            if not events and remaining <= 1.0:
                return

    def stop(self) -> None:
        """Ask the loop to return after its current cycle."""
        self.stopping.set()
        self.listener.wake()
