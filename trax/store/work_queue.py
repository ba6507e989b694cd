"""Writers of work entries created outside the manager: one-off runs, triggers, retries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Least

from trax.events.channels import WORK_QUEUED
from trax.events.notify import notify
from trax.models import WorkQueue, WorkQueueStatus


def work_queue_insert(entries: Sequence[WorkQueue], *, using: str = "default") -> int:
    """Insert new entries (one statement per 500). Joins the caller's transaction on ``using``,
    so work is queued only if the caller commits."""
    if not entries:
        return 0
    with transaction.atomic(using=using):  # the notify goes out with the rows, at their commit
        WorkQueue.objects.using(using).bulk_create(entries, batch_size=500)
        notify(WORK_QUEUED, using=using)
    return len(entries)


def work_queue_insert_skipping_conflicts(entries: Sequence[WorkQueue], *, using: str) -> int:
    """Insert entries, skipping those the unique indexes refuse (a manifest already queued, a
    failed run already retried): the idempotency of the retry step."""
    if not entries:
        return 0
    before = (
        WorkQueue.objects.using(using)
        .filter(retry_of_id__in=[e.retry_of_id for e in entries if e.retry_of_id is not None])
        .count()
    )
    WorkQueue.objects.using(using).bulk_create(entries, ignore_conflicts=True, batch_size=500)
    after = (
        WorkQueue.objects.using(using)
        .filter(retry_of_id__in=[e.retry_of_id for e in entries if e.retry_of_id is not None])
        .count()
    )
    if after > before:
        notify(WORK_QUEUED, using=using)
    return after - before


def work_queue_trigger(
    *, manifest_id: int, entry: WorkQueue, scheduled_at: datetime, using: str = "default"
) -> WorkQueue:
    """Queue an explicit trigger of a manifest, or bring its already queued entry forward to
    ``scheduled_at`` (never later) and mark it explicit. Returns the queued entry."""
    with transaction.atomic(using=using):
        queued = WorkQueue.objects.using(using).filter(
            manifest_id=manifest_id, status=WorkQueueStatus.QUEUED
        )
        # An entry with no time is due at once already: never push it later.
        moved = queued.update(
            is_explicit_trigger=True,
            scheduled_at=Case(
                When(Q(scheduled_at__isnull=True), then=Value(None)),
                default=Least("scheduled_at", Value(scheduled_at)),
            ),
        )
        notify(WORK_QUEUED, using=using)
        if moved:
            return queued.get()
        entry.scheduled_at = scheduled_at
        entry.save(using=using, force_insert=True)
        return entry


def work_queue_insert_one(entry: WorkQueue, *, using: str = "default") -> bool:
    """Insert one entry unless a unique index refuses it (its manifest already has one
    queued); returns whether it was inserted. Runs in a savepoint of the caller's
    transaction."""
    try:
        with transaction.atomic(using=using):
            entry.save(using=using, force_insert=True)
            notify(WORK_QUEUED, using=using)
    except IntegrityError:
        return False
    return True


def work_queue_cancel_lineage(origin_id: int, *, using: str = "default") -> int:
    """Cancel the queued (not yet dispatched) entries of a lineage: the origin and every retry
    or requeue of it. Guarded by status; returns how many."""
    return (
        WorkQueue.objects.using(using)
        .filter(Q(id=origin_id) | Q(origin_id=origin_id), status=WorkQueueStatus.QUEUED)
        .update(status=WorkQueueStatus.CANCELLED)
    )
