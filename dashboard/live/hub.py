"""The process's one listener for the dashboard. It turns the engine's notifications
(PostgreSQL LISTEN on trax's event channels; on SQLite one cheap poll a second) into coalesced
"these topics changed" messages to a channel-layer group that every open socket of this process
joins. An open tab costs no query while nothing changes; bursts become one message per window.

Each ASGI process runs its own hub, so several processes behind a load balancer work with the
in-memory channel layer and no broker: every process hears the database itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer
from django.db import DatabaseError, connections

from trax.events.channels import CAPACITY_FREED, CHANGED, JOBS_READY, RUN_CANCEL, WORK_QUEUED
from trax.events.listener import RECONNECTED, Event, Listener
from trax.store import change_marker, run_records_alias

logger = logging.getLogger("dashboard.live")

#: The channel-layer group every live socket of this process joins.
GROUP = "trax.dashboard.live"

#: Which topics each notification channel touches (pages subscribe to topics); on
#: ``trax_changed`` the payload names the topic.
TOPICS: dict[str, tuple[str, ...]] = {
    WORK_QUEUED: ("queue",),
    JOBS_READY: ("queue", "runs"),
    CAPACITY_FREED: ("runs", "queue"),
    RUN_CANCEL: ("runs",),
    CHANGED: (),
}
ALL_TOPICS: tuple[str, ...] = (
    "queue",
    "runs",
    "dead_letters",
    "schedules",
    "processes",
    "settings",
    "bulk",
    "audit",
)


def topics_of(events: Iterable[Event]) -> set[str]:
    """The topics touched by ``events`` (a reconnection may have missed any)."""
    found: set[str] = set()
    for event in events:
        if event.channel == RECONNECTED:
            found.update(ALL_TOPICS)
        elif event.channel == CHANGED:
            found.update(topic for topic in event.payload.split(",") if topic in ALL_TOPICS)
        else:
            found.update(TOPICS.get(event.channel, ()))
    return found


@dataclass
class LiveHub:
    """Started by the first socket of the process, on its event loop; runs until the process
    ends. Blocking waits run on one thread of its own (its database connection stays there)."""

    coalesce_seconds: float = 0.25
    poll_seconds: float = 1.0
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _executor: ThreadPoolExecutor | None = field(default=None, init=False)

    def ensure_started(self) -> None:
        """Start the hub on the running event loop unless it runs already."""
        if self._task is not None and not self._task.done():
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trax-live")
        self._task = asyncio.get_running_loop().create_task(self._pump(), name="trax-live-hub")

    async def stop(self) -> None:
        """Stop the hub (tests; a process's hub otherwise lives as long as it does)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        watch = await loop.run_in_executor(self._executor, _Watch.open)
        layer = get_channel_layer()
        try:
            while True:
                topics = await loop.run_in_executor(
                    self._executor, watch.changes, self.poll_seconds
                )
                if not topics:
                    continue
                # Coalesce a burst: whatever else arrives in the window joins this message.
                await asyncio.sleep(self.coalesce_seconds)
                topics |= await loop.run_in_executor(self._executor, watch.changes, 0.0)
                if layer is not None:
                    await layer.group_send(
                        GROUP, {"type": "live.changed", "topics": sorted(topics)}
                    )
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the dashboard's live hub stopped; open pages stop updating")
        finally:
            await loop.run_in_executor(self._executor, watch.close)


class _Watch:
    """What the hub waits on: a LISTEN session (PostgreSQL) or a change marker polled once per
    wait (SQLite)."""

    def __init__(self, listener: Listener, using: str) -> None:
        self.listener = listener
        self.using = using
        self.marker: Any = None

    @classmethod
    def open(cls) -> _Watch:
        """Connect now: the first connection's "reconnected" event announces nothing."""
        using = run_records_alias()
        watch = cls(Listener([*TOPICS], using=using), using)
        watch.changes(0.0)
        return watch

    def changes(self, timeout: float) -> set[str]:
        if self.listener.enabled:
            return topics_of(self.listener.wait(timeout))
        self.listener.wait(timeout)  # a polling wait: sleeps out the timeout
        try:
            marker = change_marker(using=self.using)
        except DatabaseError:
            logger.warning("the dashboard's live poll failed", exc_info=True)
            return set()
        changed = self.marker is not None and marker != self.marker
        self.marker = marker
        return set(ALL_TOPICS) if changed else set()

    def close(self) -> None:
        self.listener.close()
        connections.close_all()


#: This process's hub.
hub = LiveHub()
