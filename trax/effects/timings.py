"""Per-junction start and end times of one run, collected in memory at the junction boundaries
and written once, with the run's outcome (``Metadata.junction_timings``).

Times are seconds on the executing process's monotonic clock, counted from the moment the
recorder is made (the executor beginning the run, just after its start was recorded), rounded to
the microsecond: a wall-clock step mid-run cannot make a junction end before it started, and
nothing is formatted per junction (ISO timestamps cost about 3 us per junction to build; two
subtractions and a dict cost well under one). The hot path stores two clock readings and one
tuple per junction; the stored form is built once, when the run ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: At most this many items are stored; a longer run keeps its first ``MAX_TIMINGS - 2``
#: junctions, one ``{"omitted": n}`` marker and its last junction (where it failed, say).
MAX_TIMINGS = 1000

COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"

_Entry = tuple[str, float, float, str]  # name, started, ended (monotonic), outcome

# Looked up when a recorder is made, so tests can put a clock of their own in its place.
monotonic: Callable[[], float] = time.monotonic


class JunctionTimings:
    """Records when each junction of one run started and ended, in execution order."""

    __slots__ = ("_clock", "_entries", "_last", "_name", "_omitted", "_origin", "_start")

    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock = clock or monotonic
        self._origin = clock()
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
        entry = (name, self._start, ended, outcome)
        if len(self._entries) < MAX_TIMINGS - 2:
            self._entries.append(entry)
            return
        if self._last is not None:  # past the cap: keep the latest, count the one it replaces
            self._omitted += 1
        self._last = entry

    def take(self, open_outcome: str) -> list[dict[str, Any]]:
        """The stored form; a junction still open (the run was cancelled at its boundary, or
        an exception escaped the engine) ends now with ``open_outcome``."""
        if self._name is not None:
            self.ended(open_outcome)
        origin = self._origin
        entries: list[dict[str, Any]] = [
            {
                "name": name.replace("\x00", "\\x00"),  # PostgreSQL's jsonb refuses \u0000
                "started_at": round(started - origin, 6),
                "ended_at": round(ended - origin, 6),
                "outcome": outcome,
            }
            for name, started, ended, outcome in self._entries
        ]
        if self._last is not None:
            name, started, ended, outcome = self._last
            if self._omitted:
                entries.append({"omitted": self._omitted})
            entries.append(
                {
                    "name": name.replace("\x00", "\\x00"),
                    "started_at": round(started - origin, 6),
                    "ended_at": round(ended - origin, 6),
                    "outcome": outcome,
                }
            )
        return entries
