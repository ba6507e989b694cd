"""Writers of dispatch: queued work entries become pending runs (and, for the database
submitter, background jobs) in one transaction per batch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections, transaction
from django.db.models import F, Q, Value, Window
from django.db.models.functions import Coalesce, Now, RowNumber

from trax.events.channels import JOBS_READY, WORK_QUEUED
from trax.events.notify import notify
from trax.models import (
    BackgroundJob,
    FailureKind,
    Metadata,
    TrainState,
    WorkQueue,
    WorkQueueStatus,
)
from trax.store.queries import execute_named
from trax.store.work_entries.queue import NewWorkEntry


@dataclass(frozen=True)
class QueuedEntry:
    """A queued work entry the dispatcher chose, with what its run needs."""

    id: int
    external_id: uuid.UUID
    origin_id: int | None
    train_name: str
    input: Any
    manifest_id: int | None
    priority: int
    attempt: int
    max_retries: int
    dispatch_attempts: int
    scheduled_at: datetime | None


@dataclass(frozen=True)
class DispatchedRun:
    """A run created from an entry."""

    metadata_id: int
    entry: QueuedEntry


def work_queue_dispatch(
    entries: Sequence[QueuedEntry], *, with_jobs: bool, using: str
) -> list[DispatchedRun]:
    """Turn queued entries into pending runs in one transaction: lock the entries still queued
    (``FOR UPDATE SKIP LOCKED``: another dispatcher's entries are skipped), insert their runs,
    mark them dispatched; with ``with_jobs`` also insert their background jobs and notify the
    workers on commit. Returns the runs created (entries already taken are left out)."""
    if not entries:
        return []
    connection = connections[using]
    by_id = {entry.id: entry for entry in entries}
    if connection.vendor == "postgresql":
        return _dispatch_postgresql(by_id, with_jobs=with_jobs, using=using)
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            placeholders = ", ".join(["%s"] * len(by_id))
            cursor.execute(
                f"SELECT id, trace_parent FROM trax_work_queue WHERE id IN ({placeholders}) "
                "AND status = 'queued'",
                list(by_id),
            )
            traced = dict(cursor.fetchall())
            locked = sorted(traced)
        if not locked:
            return []
        runs = Metadata.objects.using(using).bulk_create(
            [
                Metadata(
                    name=by_id[entry_id].train_name,
                    input=by_id[entry_id].input,
                    manifest_id=by_id[entry_id].manifest_id,
                    work_queue_id=entry_id,
                    attempt=by_id[entry_id].attempt,
                    scheduled_time=by_id[entry_id].scheduled_at,
                    external_id=uuid.uuid4(),
                    trace_parent=traced[entry_id],
                )
                for entry_id in locked
            ]
        )
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE trax_work_queue SET status = 'dispatched', metadata_id = %s, "
                "dispatched_at = %s WHERE id = %s AND status = 'queued'",
                [
                    (run.pk, connection.ops.adapt_datetimefield_value(run.created_at), entry_id)
                    for run, entry_id in zip(runs, locked, strict=True)
                ],
            )
        if with_jobs:
            BackgroundJob.objects.using(using).bulk_create(
                [
                    BackgroundJob(
                        metadata_id=run.pk,
                        priority=by_id[entry_id].priority,
                        attempt=by_id[entry_id].attempt,
                    )
                    for run, entry_id in zip(runs, locked, strict=True)
                ]
            )
            notify(JOBS_READY, using=using)
    return [
        DispatchedRun(run.pk, by_id[entry_id]) for run, entry_id in zip(runs, locked, strict=True)
    ]


def _dispatch_postgresql(
    by_id: dict[int, QueuedEntry], *, with_jobs: bool, using: str
) -> list[DispatchedRun]:
    """One statement per batch (see sql/postgresql.sql), in the caller's transaction if any."""
    name = "work_queue_dispatch_with_jobs" if with_jobs else "work_queue_dispatch_runs_only"
    rows = execute_named(connections[using], name, {"ids": list(by_id), "channel": JOBS_READY})
    return [DispatchedRun(row[0], by_id[row[1]]) for row in rows]


def work_queue_fail_dispatch(
    run: DispatchedRun, *, reason: str, max_dispatch_attempts: int, using: str
) -> bool:
    """A submission failed: the run fails as ``DispatchFailed`` and, while dispatch attempts
    remain, a new entry of the same lineage is queued (``retry_of`` = the failed run, so the
    retry rules do not count it). Returns whether it was requeued."""
    entry = run.entry
    attempts = entry.dispatch_attempts + 1
    with transaction.atomic(using=using):
        failed = (
            Metadata.objects.using(using)
            .filter(id=run.metadata_id, train_state=TrainState.PENDING)
            .update(
                train_state=TrainState.FAILED,
                end_time=Now(),
                failure_exception=FailureKind.DISPATCH_FAILED,
                failure_reason=reason,
            )
        )
        if not failed or attempts >= max_dispatch_attempts:  # it started after all: keep it
            return False
        NewWorkEntry(
            train_name=entry.train_name,
            input=entry.input,
            manifest_id=entry.manifest_id,
            origin_id=entry.origin_id or entry.id,
            retry_of_id=run.metadata_id,
            priority=entry.priority,
            attempt=entry.attempt,
            max_retries=entry.max_retries,
            dispatch_attempts=attempts,
            is_explicit_trigger=True,
        ).row().save(using=using, force_insert=True)
        notify(WORK_QUEUED, using=using)
    return True


@dataclass(frozen=True)
class QueuedCandidate:
    """A queued entry the dispatcher may take, with its group's dispatch controls."""

    entry: QueuedEntry
    group_id: int | None
    group_priority: int


_CANDIDATE_COLUMNS = (
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
    "created_at",
)


def work_queue_load_due(*, now: datetime, limit: int, using: str) -> list[QueuedCandidate]:
    """Entries due (``scheduled_at`` empty or past), in an enabled group, of an enabled
    manifest unless explicitly triggered (one-off entries have neither); ordered by group
    priority, entry priority (dependents carry their boost), then age; at most ``limit``, and
    of a capped group at most its cap."""
    due = Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now)
    queued = WorkQueue.objects.using(using).filter(due, status=WorkQueueStatus.QUEUED)
    order: list[Any] = [F("group_priority").desc(), F("priority").desc(), "created_at", "id"]
    # Scheduled work: at most one queued entry per manifest, so the window stays small. Never
    # more of one group than its cap lets run: a capped group's backlog would otherwise fill
    # the batch and starve every other group behind it.
    scheduled = (
        queued.filter(
            Q(manifest__group__is_enabled=True)
            & (Q(manifest__is_enabled=True) | Q(is_explicit_trigger=True))
        )
        .annotate(
            group_priority=F("manifest__group__priority"),
            in_group=Window(RowNumber(), partition_by=[F("manifest__group_id")], order_by=order),
        )
        .filter(in_group__lte=Coalesce(F("manifest__group__max_active_jobs"), Value(limit)))
        .order_by(*order)
        .values_list(*_CANDIDATE_COLUMNS)[:limit]
    )
    # One-off work has no group (priority 0): read by the queued index, no window over it.
    one_off = (
        queued.filter(manifest__isnull=True)
        .annotate(group_priority=Value(0))
        .order_by(*order)
        .values_list(*_CANDIDATE_COLUMNS)[:limit]
    )
    rows = sorted([*scheduled, *one_off], key=lambda row: (-row[12], -row[6], row[13], row[0]))[
        :limit
    ]
    return [
        QueuedCandidate(QueuedEntry(*row[:11]), group_id=row[11], group_priority=row[12])
        for row in rows
    ]
