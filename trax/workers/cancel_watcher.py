"""The cancel watcher: fires the tokens of this process's runs when they are flagged, at once
on a notification (PostgreSQL) and by a periodic check of the flag (both databases)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import connections

from trax.effects import local_tokens
from trax.events.channels import RUN_CANCEL
from trax.events.listener import RECONNECTED, Listener
from trax.models import CancelReason
from trax.reconnect import drop_connections
from trax.store import metadata_cancel_flagged

logger = logging.getLogger("trax.workers")


class CancelWatcher:
    """Watches the runs ``in_flight()`` returns."""

    def __init__(
        self,
        *,
        in_flight: Callable[[], list[int]],
        check_interval: float,
        using: str,
        stopping: threading.Event,
    ) -> None:
        self.in_flight = in_flight
        self.check_interval = check_interval
        self.using = using
        self.stopping = stopping
        self.listener = Listener([RUN_CANCEL], using=using)
        self._thread = threading.Thread(target=self._run, name="trax-cancel-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self.listener.wake()
        self._thread.join(timeout)

    def check_flags(self) -> int:
        """Fire the tokens of in-flight runs whose flag is set; returns how many."""
        ids = self.in_flight()
        if not ids:
            return 0
        flagged = metadata_cancel_flagged(ids, using=self.using)
        return local_tokens.fire(flagged, CancelReason.OPERATOR)

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    events = self.listener.wait(self.check_interval)
                    ids = [
                        int(part)
                        for event in events
                        if event.channel == RUN_CANCEL
                        for part in event.payload.split(",")
                        if part.isdigit()
                    ]
                    if ids:
                        local_tokens.fire(ids, CancelReason.OPERATOR)
                    if not ids or any(e.channel == RECONNECTED for e in events):
                        self.check_flags()
                except Exception:  # a dead connection (server restart) or a bug: never stop
                    logger.warning(
                        "cancel watcher failed; retrying on a fresh connection", exc_info=True
                    )
                    drop_connections()
                    self.stopping.wait(self.check_interval)
        finally:
            self.listener.close()
            connections.close_all()
