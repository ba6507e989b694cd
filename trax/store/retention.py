"""Retention: finished work ages out whole — a lineage of work entries (the first entry, its
retries and requeues) with its runs, their child runs and logs — in bounded batches, never while
any of it is still in use or an operator may still need it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections, transaction
from django.db.models import Exists, OuterRef, Q

from trax.models import DeadLetter, DeadLetterStatus, Metadata, RunRollup, TrainState, WorkQueue
from trax.models.choices import WorkQueueStatus
from trax.models.rollup import HOUR, MINUTE
from trax.store.runs.streaks import settled_before

FINISHED = (TrainState.COMPLETED, TrainState.FAILED, TrainState.CANCELLED)


@dataclass(frozen=True)
class Retired:
    """What one pass deleted."""

    work_entries: int = 0
    runs: int = 0


def retention_delete_finished(
    ended_before: datetime,
    *,
    batch_size: int = 1000,
    max_batches: int = 10,
    using: str,
) -> Retired:
    """Delete what finished before ``ended_before``: lineages whose every entry and run did,
    then runs made by no entry (``trax.run``, housekeeping records). At most ``max_batches``
    batches of ``batch_size`` (lineages, or runs) per call, each its own transaction, so a
    backlog drains over several cycles without long locks.

    Kept: a lineage with an entry still queued or a run not finished (or finished later); the
    run an awaiting dead letter points at, and the failures still counting toward a manifest's
    retries (its streak) — with everything of their lineage.
    """
    entries = runs = 0
    lineages = _finished_lineages(ended_before, using=using)
    for _ in range(max_batches):
        roots = list(lineages.values_list("id", flat=True)[:batch_size])
        if not roots:
            break
        with transaction.atomic(using=using):
            members = list(
                WorkQueue.objects.using(using)
                .filter(Q(id__in=roots) | Q(origin_id__in=roots))
                .values_list("id", flat=True)
            )
            made = list(
                Metadata.objects.using(using)
                .filter(work_queue_id__in=members)
                .values_list("id", flat=True)
            )
            deleted = _delete(members, made, using=using)
        entries += deleted.work_entries
        runs += deleted.runs
    standalone = _finished_standalone_runs(ended_before, using=using)
    for _ in range(max_batches):
        batch = list(standalone.values_list("id", flat=True)[:batch_size])
        if not batch:
            break
        with transaction.atomic(using=using):
            runs += _delete([], batch, using=using).runs
    return Retired(work_entries=entries, runs=runs)


def retention_delete_rollups(
    minutes_before: datetime | None,
    hours_before: datetime | None,
    *,
    batch_size: int = 1000,
    max_batches: int = 10,
    using: str,
) -> int:
    """Delete minute rollups of buckets starting before ``minutes_before`` and hour rollups
    before ``hours_before`` (None keeps them), oldest first, at most ``max_batches`` statements
    of ``batch_size`` rows each; returns how many. Each is a range of the rollups' key."""
    deleted = 0
    for width, before in ((MINUTE, minutes_before), (HOUR, hours_before)):
        if before is None:
            continue
        for _ in range(max_batches):
            ids = list(
                RunRollup.objects.using(using)
                .filter(bucket_seconds=width, bucket__lt=before)
                .order_by("bucket")
                .values_list("id", flat=True)[:batch_size]
            )
            if ids:
                deleted += RunRollup.objects.using(using).filter(id__in=ids).delete()[0]
            if len(ids) < batch_size:
                break
    return deleted


def _kept_runs(ended_before: datetime, *, using: str) -> Q:
    """Runs that keep their lineage: unfinished, finished at or after the cutoff, pointed at by
    an awaiting dead letter, or failures still counting toward their manifest's streak (the
    condition of ``metadata_counted_failures``, written per row so a candidate costs a few
    index probes)."""
    letters = DeadLetter.objects.using(using).filter(
        status=DeadLetterStatus.AWAITING_INTERVENTION, last_failed_run_id=OuterRef("pk")
    )
    manifest_awaiting = DeadLetter.objects.using(using).filter(
        status=DeadLetterStatus.AWAITING_INTERVENTION, manifest_id=OuterRef("manifest_id")
    )
    streak = (
        Q(train_state=TrainState.FAILED, manifest__isnull=False)
        & Q(end_time__gt=settled_before())
        & ~Q(Exists(manifest_awaiting))
    )
    return (
        ~Q(train_state__in=FINISHED)
        | Q(end_time__gte=ended_before)
        | Q(end_time__isnull=True)
        | Q(Exists(letters))
        | streak
    )


def _finished_lineages(ended_before: datetime, *, using: str) -> Any:
    """First entries (oldest first) whose whole lineage finished before the cutoff."""
    busy_entry = WorkQueue.objects.using(using).filter(
        Q(status=WorkQueueStatus.QUEUED) | Q(created_at__gte=ended_before),
        origin_id=OuterRef("pk"),
    )
    kept = _kept_runs(ended_before, using=using)
    runs = Metadata.objects.using(using).filter(kept)
    return (
        WorkQueue.objects.using(using)
        .filter(origin__isnull=True, created_at__lt=ended_before)
        .exclude(status=WorkQueueStatus.QUEUED)
        .exclude(Exists(busy_entry))
        .exclude(Exists(runs.filter(work_queue_id=OuterRef("pk"))))
        .exclude(Exists(runs.filter(work_queue__origin_id=OuterRef("pk"))))
        .order_by("id")
    )


def _finished_standalone_runs(ended_before: datetime, *, using: str) -> Any:
    """Top-level runs made by no work entry, finished before the cutoff and not kept."""
    return (
        Metadata.objects.using(using)
        .filter(
            parent__isnull=True,
            work_queue__isnull=True,
            train_state__in=FINISHED,
            end_time__lt=ended_before,
        )
        .exclude(_kept_runs(ended_before, using=using))
        .order_by("id")
    )


def _delete(entry_ids: list[int], run_ids: list[int], *, using: str) -> Retired:
    """Delete work entries and runs (with their child runs, logs and job rows) with plain
    DELETEs, in the caller's transaction. Django's cascade would first set to NULL every link
    between rows about to go (a rewrite of each row before its delete: twice the table's churn);
    only links from rows that stay are cleared. The foreign keys are checked at commit."""
    runs = _with_descendants(run_ids, using=using)
    DeadLetter.objects.using(using).filter(last_failed_run_id__in=runs).update(last_failed_run=None)
    DeadLetter.objects.using(using).filter(retry_run_id__in=runs).update(retry_run=None)
    staying_entries = WorkQueue.objects.using(using).exclude(id__in=entry_ids)
    staying_entries.filter(retry_of_id__in=runs).update(retry_of=None)
    staying_entries.filter(metadata_id__in=runs).update(metadata=None)
    staying_entries.filter(origin_id__in=entry_ids).update(origin=None)
    Metadata.objects.using(using).filter(work_queue_id__in=entry_ids).exclude(id__in=runs).update(
        work_queue=None
    )
    connection = connections[using]
    with connection.cursor() as cursor:
        for table, column in (
            ("trax_log", "metadata_id"),
            ("trax_background_job", "metadata_id"),
            ("trax_metadata", "id"),
        ):
            _delete_where_in(cursor, table, column, runs)
        _delete_where_in(cursor, "trax_work_queue", "id", entry_ids)
    return Retired(work_entries=len(entry_ids), runs=len(runs))


def _with_descendants(run_ids: list[int], *, using: str) -> list[int]:
    """The runs and every run started inside them, at any depth."""
    found = list(run_ids)
    frontier = list(run_ids)
    while frontier:
        frontier = list(
            Metadata.objects.using(using)
            .filter(parent_id__in=frontier)
            .values_list("id", flat=True)
        )
        found.extend(frontier)
    return found


#: Ids per DELETE statement (SQLite caps the parameters of one statement).
_CHUNK = 5000


def _delete_where_in(cursor: Any, table: str, column: str, ids: list[int]) -> None:
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join(["%s"] * len(chunk))
        cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk)
