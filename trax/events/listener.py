"""Waiting for notifications on a connection of its own, reconnecting after outages."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import connections

logger = logging.getLogger("trax.events")

RECONNECTED = "trax_reconnected"
"""Synthetic event after a reconnection: something may have been missed, so poll once."""


@dataclass(frozen=True)
class Event:
    channel: str
    payload: str


class Listener:
    """LISTENs on ``channels`` through a dedicated autocommit connection (PostgreSQL), or only
    waits out the timeout (SQLite), so callers poll either way and are woken early when they can
    be. Not thread-safe: one listener per thread."""

    def __init__(self, channels: Sequence[str], *, using: str = "default") -> None:
        self.channels = tuple(channels)
        self.using = using
        self.enabled = connections[using].vendor == "postgresql"
        self._connection: Any = None
        self._interrupt = threading.Event()

    def wait(self, timeout: float) -> list[Event]:
        """Events that arrived within ``timeout`` seconds (empty list on timeout)."""
        if not self.enabled:
            self._interrupt.wait(timeout)
            self._interrupt.clear()
            return []
        try:
            reconnected = self._connection is None
            if reconnected:
                self._connect()
            events = [
                Event(n.channel, n.payload)
                for n in self._connection.notifies(timeout=timeout, stop_after=1)
            ]
            events += self._drain()
            if reconnected:
                events.append(Event(RECONNECTED, ""))
            return events
        except Exception:
            logger.warning("notification listener lost its connection; reconnecting", exc_info=True)
            self.close()
            self._interrupt.wait(min(timeout, 1.0))
            return [Event(RECONNECTED, "")]

    def wake(self) -> None:
        """Make a polling (SQLite) ``wait`` return early."""
        self._interrupt.set()

    def close(self) -> None:
        """Drop the connection (the next ``wait`` reconnects)."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def _connect(self) -> None:
        # A connection of its own, never one of the alias's pool: a LISTEN session lives as
        # long as the process, and closing a borrowed one would not give it back.
        params = connections[self.using].get_connection_params()
        raw = psycopg.connect(**params, autocommit=True)
        self._connection = raw  # so close() drops it if LISTEN fails halfway
        for channel in self.channels:
            raw.execute(f'LISTEN "{channel}"')

    def _drain(self) -> list[Event]:
        return [
            Event(n.channel, n.payload)
            for n in self._connection.notifies(timeout=0, stop_after=None)
        ]
