"""Step: the queued entries that may run now, in dispatch order."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce

from trax.dispatch.context import DispatchCycle
from trax.models import WorkQueue, WorkQueueStatus
from trax.store import QueuedEntry


@dataclass(frozen=True)
class Candidate:
    """A queued entry with its group's dispatch controls."""

    entry: QueuedEntry
    group_id: int | None
    group_priority: int


@dataclass(frozen=True)
class QueuedWork:
    candidates: tuple[Candidate, ...]


def load_queued(cycle: DispatchCycle) -> QueuedWork:
    """Entries due (``scheduled_at`` empty or past), in an enabled group, of an enabled
    manifest unless explicitly triggered (one-off entries have neither); ordered by group
    priority, entry priority (dependents carry their boost), then age."""
    due = Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=cycle.now)
    runnable = Q(manifest__isnull=True) | (
        Q(manifest__group__is_enabled=True)
        & (Q(manifest__is_enabled=True) | Q(is_explicit_trigger=True))
    )
    rows = (
        WorkQueue.objects.using(cycle.using)
        .filter(due, runnable, status=WorkQueueStatus.QUEUED)
        .annotate(group_priority=Coalesce(F("manifest__group__priority"), Value(0)))
        .order_by("-group_priority", "-priority", "created_at", "id")
        .values_list(
            "id",
            "external_id",
            "origin_id",
            "train_name",
            "input",
            "manifest_id",
            "priority",
            "attempt",
            "max_retries",
            "dispatch_attempts",
            "scheduled_at",
            "manifest__group_id",
            "group_priority",
        )[: cycle.config.batch_size]
    )
    return QueuedWork(
        tuple(
            Candidate(QueuedEntry(*row[:11]), group_id=row[11], group_priority=row[12])
            for row in rows
        )
    )
