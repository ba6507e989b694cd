"""Per-junction start and end times of one run, collected in memory at the junction boundaries
and written once, with the run's outcome (``Metadata.junction_timings``).

The hot path stores two monotonic readings per junction (no formatting, no allocation beyond
one tuple); the stored form is built once at the end. Times are anchored to the wall clock
read once when the recorder is made: ``started_at = wall0 + (monotonic - monotonic0)``, so
durations and ordering come from the monotonic clock (a wall-clock step mid-run cannot make a
junction end before it started) and the absolute times are the executing process's UTC clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

#: At most this many items are stored; a longer run keeps its first ``MAX_TIMINGS - 2``
#: junctions, one ``{"omitted": n}`` marker and its last junction (where it failed, say).
MAX_TIMINGS = 1000

COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"

_Entry = tuple[str, float, float, str]  # name, started, ended (monotonic), outcome

# Looked up when a recorder is made, so tests can put a clock of their own in their place.
monotonic: Callable[[], float] = time.monotonic
wall_clock: Callable[[], float] = time.time


class JunctionTimings:
    """Records when each junction of one run started and ended, in execution order."""

    __slots__ = ("_clock", "_entries", "_last", "_mono0", "_name", "_omitted", "_start", "_wall0")

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        wall: Callable[[], float] | None = None,
    ) -> None:
        self._clock = clock = clock or monotonic
        self._wall0 = (wall or wall_clock)()
        self._mono0 = clock()
        self._entries: list[_Entry] = []
        self._last: _Entry | None = None  # past the cap: the latest junction
        self._omitted = 0
        self._name: str | None = None  # the junction started and not ended yet
        self._start = 0.0

    def started(self, name: str) -> None:
        """A junction begins (the last thing before its code runs)."""
        self._name = name
        self._start = self._clock()

    def ended(self, outcome: str) -> None:
        """The junction that began returned (``completed``) or raised."""
        ended = self._clock()
        name = self._name
        if name is None:
            return
        self._name = None
        self._add((name, self._start, ended, outcome))

    def _add(self, entry: _Entry) -> None:
        if len(self._entries) < MAX_TIMINGS - 2:
            self._entries.append(entry)
            return
        if self._last is not None:
            self._omitted += 1
        self._last = entry

    def take(self, open_outcome: str) -> list[dict[str, Any]]:
        """The stored form; a junction still open (the run was cancelled at its boundary, or
        an exception escaped the engine) ends now with ``open_outcome``."""
        if self._name is not None:
            self.ended(open_outcome)
        entries: list[dict[str, Any]] = [self._item(entry) for entry in self._entries]
        if self._last is not None:
            if self._omitted:
                entries.append({"omitted": self._omitted})
            entries.append(self._item(self._last))
        return entries

    def _item(self, entry: _Entry) -> dict[str, Any]:
        name, started, ended, outcome = entry
        return {
            "name": name.replace("\x00", "\\x00"),  # PostgreSQL's jsonb refuses \u0000
            "started_at": self._iso(started),
            "ended_at": self._iso(ended),
            "outcome": outcome,
        }

    def _iso(self, reading: float) -> str:
        moment = datetime.fromtimestamp(self._wall0 + (reading - self._mono0), tz=UTC)
        return moment.isoformat(timespec="microseconds")
