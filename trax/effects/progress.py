"""Junction progress published in batches. Inside a worker, the junction a run enters is noted
in memory and the worker's heartbeat writes what changed in one statement: a run shorter than
a heartbeat costs no progress write at all, a long one shows its junction within a beat. The
runs' captured log records go the same way, so a run's thread writes nothing of its own."""

from __future__ import annotations

import contextvars
import threading
import time
from dataclasses import dataclass

from trax.effects.logs import RunLogBuffer
from trax.store import JunctionProgress, log_write_batch, metadata_publish_progress


@dataclass
class _Noted:
    junction: str
    since: float  # time.monotonic() when the junction started
    published: bool = False


class ProgressBoard:
    """The junction each run of this process is in, until it is published."""

    def __init__(self) -> None:
        self._runs: dict[int, _Noted] = {}
        self._logs: dict[int, RunLogBuffer] = {}
        self._lock = threading.Lock()

    def note(self, run_id: int, junction: str) -> None:
        """``run_id`` entered ``junction`` now."""
        with self._lock:
            self._runs[run_id] = _Noted(junction, time.monotonic())

    def hold_logs(self, run_id: int, buffer: RunLogBuffer) -> None:
        """``run_id`` captures log records in ``buffer``: publish them until the run ends."""
        with self._lock:
            self._logs[run_id] = buffer

    def forget(self, run_id: int) -> None:
        """The run ended: nothing of it is left to publish (its finish clears the columns and
        writes its last log records)."""
        with self._lock:
            self._runs.pop(run_id, None)
            self._logs.pop(run_id, None)

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
        """Write what changed in one statement, and the runs' captured log records in one
        more; returns how many runs' progress it updated."""
        with self._lock:
            buffers = list(self._logs.values())
        log_write_batch([row for buffer in buffers for row in buffer.drain()], using=using)
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
