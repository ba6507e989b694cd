"""Step: the queued entries that may run now, in dispatch order (read by the store)."""

from __future__ import annotations

from dataclasses import dataclass

from trax.dispatch.context import DispatchCycle
from trax.store import QueuedCandidate, work_queue_load_due

#: A queued entry with its group's dispatch controls.
Candidate = QueuedCandidate


@dataclass(frozen=True)
class QueuedWork:
    candidates: tuple[Candidate, ...]


def load_queued(cycle: DispatchCycle) -> QueuedWork:
    """Entries due at the cycle's ``now``, at most the batch size (``work_queue_load_due``)."""
    return QueuedWork(
        tuple(work_queue_load_due(now=cycle.now, limit=cycle.config.batch_size, using=cycle.using))
    )
