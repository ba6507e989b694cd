"""Writers of work entries created outside the manager: one-off runs, triggers, retries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Least

from trax.events.channels import WORK_QUEUED
from trax.events.notify import notify, notify_changed
from trax.metrics.tracing import current_trace_parent
from trax.models import WorkQueue, WorkQueueStatus


@dataclass(frozen=True)
class NewWorkEntry:
    """A work entry to queue, as callers outside the store describe it (no model instance
    crosses the store's boundary); the store turns it into its row."""

    train_name: str
    input: Any = None
    manifest_id: int | None = None
    priority: int = 0
    scheduled_at: datetime | None = None
    attempt: int = 1
    max_retries: int = 0
    origin_id: int | None = None
    retry_of_id: int | None = None
    parent_success_stamp: datetime | None = None
    is_explicit_trigger: bool = False
    dispatch_attempts: int = 0
    external_id: uuid.UUID = field(default_factory=uuid.uuid4)
    #: The trace context of the code queuing it (OpenTelemetry; '' when untraced).
    trace_parent: str = field(default_factory=current_trace_parent)

    def row(self) -> WorkQueue:
        """The ``queued`` row to insert."""
        return WorkQueue(
            external_id=self.external_id,
            train_name=self.train_name,
            input=self.input,
            manifest_id=self.manifest_id,
            priority=self.priority,
            scheduled_at=self.scheduled_at,
            attempt=self.attempt,
            max_retries=self.max_retries,
            origin_id=self.origin_id,
            retry_of_id=self.retry_of_id,
            parent_success_stamp=self.parent_success_stamp,
            is_explicit_trigger=self.is_explicit_trigger,
            dispatch_attempts=self.dispatch_attempts,
            status=WorkQueueStatus.QUEUED,
            trace_parent=self.trace_parent,
        )


def work_queue_next_attempt(entry_id: int, *, attempt: int, using: str) -> NewWorkEntry | None:
    """The same work queued again, of the same lineage (a shutdown's requeue keeps the attempt:
    it is no failure); None when the entry is gone."""
    entry = WorkQueue.objects.using(using).filter(id=entry_id).first()
    if entry is None:
        return None
    return NewWorkEntry(
        train_name=entry.train_name,
        input=entry.input,
        manifest_id=entry.manifest_id,
        origin_id=entry.origin_id or entry.id,
        priority=entry.priority,
        attempt=attempt,
        max_retries=entry.max_retries,
        is_explicit_trigger=True,
    )


def work_queue_insert(entries: Sequence[NewWorkEntry], *, using: str = "default") -> int:
    """Insert new entries (one statement per 500). Joins the caller's transaction on ``using``,
    so work is queued only if the caller commits."""
    if not entries:
        return 0
    with transaction.atomic(using=using):  # the notify goes out with the rows, at their commit
        WorkQueue.objects.using(using).bulk_create([e.row() for e in entries], batch_size=500)
        notify(WORK_QUEUED, using=using)
    return len(entries)


def work_queue_insert_skipping_conflicts(entries: Sequence[NewWorkEntry], *, using: str) -> int:
    """Insert entries, skipping those the unique indexes refuse (a manifest already queued, a
    failed run already retried): the idempotency of the retry step."""
    if not entries:
        return 0
    before = (
        WorkQueue.objects.using(using)
        .filter(retry_of_id__in=[e.retry_of_id for e in entries if e.retry_of_id is not None])
        .count()
    )
    WorkQueue.objects.using(using).bulk_create(
        [e.row() for e in entries], ignore_conflicts=True, batch_size=500
    )
    after = (
        WorkQueue.objects.using(using)
        .filter(retry_of_id__in=[e.retry_of_id for e in entries if e.retry_of_id is not None])
        .count()
    )
    if after > before:
        notify(WORK_QUEUED, using=using)
    return after - before


def work_queue_trigger(
    *, manifest_id: int, entry: NewWorkEntry, scheduled_at: datetime, using: str = "default"
) -> uuid.UUID:
    """Queue an explicit trigger of a manifest, or bring its already queued entry forward to
    ``scheduled_at`` (never later) and mark it explicit. Returns the queued entry's id."""
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
            return queued.get().external_id
        row = entry.row()
        row.scheduled_at = scheduled_at
        row.save(using=using, force_insert=True)
        return row.external_id


def work_queue_insert_one(entry: NewWorkEntry, *, using: str = "default") -> bool:
    """Insert one entry unless a unique index refuses it (its manifest already has one
    queued); returns whether it was inserted. Runs in a savepoint of the caller's
    transaction."""
    try:
        with transaction.atomic(using=using):
            entry.row().save(using=using, force_insert=True)
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


def work_queue_cancel_queued(entry_ids: Sequence[int], *, using: str = "default") -> int:
    """Cancel the entries of ``entry_ids`` that are still queued (an entry dispatched meanwhile
    is left alone: its run is cancelled as a run). Guarded by status; returns how many."""
    if not entry_ids:
        return 0
    with transaction.atomic(using=using):
        cancelled = (
            WorkQueue.objects.using(using)
            .filter(id__in=list(entry_ids), status=WorkQueueStatus.QUEUED)
            .update(status=WorkQueueStatus.CANCELLED)
        )
        if cancelled:
            notify_changed("queue", using=using)
    return cancelled


def work_queue_postpone(entry_ids: Sequence[int], until: datetime, *, using: str) -> int:
    """Move queued entries' ``scheduled_at`` to ``until`` (an entry the dispatcher could not
    dispatch: it waits and is tried again, instead of holding the head of the queue)."""
    if not entry_ids:
        return 0
    return (
        WorkQueue.objects.using(using)
        .filter(id__in=list(entry_ids), status=WorkQueueStatus.QUEUED)
        .update(scheduled_at=until)
    )
