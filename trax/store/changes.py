"""A cheap read that changes whenever what the console shows changes (runs, work entries, dead
letters, schedules, processes, the audit trail): what a poller (the dashboard's, on SQLite,
which has no LISTEN) compares between polls."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Q

from trax.models import (
    Audit,
    DeadLetter,
    Manifest,
    ManifestGroup,
    Metadata,
    TrainState,
    Worker,
    WorkQueue,
    WorkQueueStatus,
)

_ACTIVE = (TrainState.PENDING, TrainState.IN_PROGRESS)


def change_marker(*, using: str) -> tuple[Any, ...]:
    """Newest run and entry, latest end, how many are active or queued, the latest start and
    junction of the active ones, dead letters, schedules, processes and the newest audit row:
    each a read of an index or of a small table, so the cost does not grow with history."""
    runs = Metadata.objects.using(using).aggregate(newest=Max("id"), ended=Max("end_time"))
    active = (
        Metadata.objects.using(using)
        .filter(train_state__in=_ACTIVE)
        .aggregate(n=Count("id"), started=Max("start_time"), progress=Max("junction_started_at"))
    )
    newest_entry = WorkQueue.objects.using(using).aggregate(newest=Max("id"))["newest"]
    queued = WorkQueue.objects.using(using).filter(status=WorkQueueStatus.QUEUED).count()
    letters = DeadLetter.objects.using(using).aggregate(
        newest=Max("id"), resolved=Max("resolved_at")
    )
    manifests = Manifest.objects.using(using).aggregate(
        n=Count("id"), enabled=Count("id", filter=Q(is_enabled=True)), edited=Max("updated_at")
    )
    groups = ManifestGroup.objects.using(using).aggregate(edited=Max("updated_at"))
    workers = Worker.objects.using(using).aggregate(n=Count("worker_id"), newest=Max("started_at"))
    audited = Audit.objects.using(using).aggregate(newest=Max("id"))["newest"]
    return (
        runs["newest"],
        runs["ended"],
        active["n"],
        active["progress"],
        newest_entry,
        queued,
        active["started"],
        *letters.values(),
        *manifests.values(),
        *groups.values(),
        *workers.values(),
        audited,
    )
