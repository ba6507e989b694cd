"""Junction progress published in batches. Inside a worker, the junction a run enters is noted
in memory and the worker's heartbeat writes what changed in one statement: a run shorter than
a heartbeat costs no progress write at all, a long one shows its junction within a beat."""

from __future__ import annotations

import contextvars
import threading
import time
from dataclasses import dataclass

from trax.store import JunctionProgress, metadata_publish_progress


@dataclass
class _Noted:
    junction: str
    since: float  # time.monotonic() when the junction started
    published: bool = False


class ProgressBoard:
    """The junction each run of this process is in, until it is published."""

    def __init__(self) -> None:
        self._runs: dict[int, _Noted] = {}
        self._lock = threading.Lock()

    def note(self, run_id: int, junction: str) -> None:
        """``run_id`` entered ``junction`` now."""
        with self._lock:
            self._runs[run_id] = _Noted(junction, time.monotonic())

    def forget(self, run_id: int) -> None:
        """The run ended: nothing of it is left to publish (its finish clears the columns)."""
        with self._lock:
            self._runs.pop(run_id, None)

    def pending(self) -> list[JunctionProgress]:
        """What changed since the last publish, with each junction's age in seconds."""
        now = time.monotonic()
        with self._lock:
            return [
                JunctionProgress(run_id, noted.junction, now - noted.since)
                for run_id, noted in self._runs.items()
                if not noted.published
            ]

    def publish(self, *, using: str) -> int:
        """Write what changed in one statement; returns how many runs it updated."""
        changes = self.pending()
        if not changes:
            return 0
        written = metadata_publish_progress(changes, using=using)
        with self._lock:
            for change in changes:
                noted = self._runs.get(change.run_id)
                if noted is not None and noted.junction == change.junction:
                    noted.published = True
        return written


#: The board of the worker whose run thread this is; unset outside workers (progress is then
#: written at each junction).
current_board: contextvars.ContextVar[ProgressBoard | None] = contextvars.ContextVar(
    "trax_progress_board", default=None
)
