"""A cheap read that changes whenever runs or work entries change: what a poller (the
dashboard's, on SQLite, which has no LISTEN) compares between polls."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max

from trax.models import Metadata, TrainState, WorkQueue, WorkQueueStatus

_ACTIVE = (TrainState.PENDING, TrainState.IN_PROGRESS)


def change_marker(*, using: str) -> tuple[Any, ...]:
    """Newest run and entry, latest end, and how many are active or queued: each a read of an
    index (the active and queued ones are partial), so the cost does not grow with history."""
    runs = Metadata.objects.using(using).aggregate(newest=Max("id"), ended=Max("end_time"))
    active = (
        Metadata.objects.using(using)
        .filter(train_state__in=_ACTIVE)
        .aggregate(n=Count("id"), progress=Max("junction_started_at"))
    )
    newest_entry = WorkQueue.objects.using(using).aggregate(newest=Max("id"))["newest"]
    queued = WorkQueue.objects.using(using).filter(status=WorkQueueStatus.QUEUED).count()
    return (
        runs["newest"],
        runs["ended"],
        active["n"],
        active["progress"],
        newest_entry,
        queued,
    )
