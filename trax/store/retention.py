"""Retention: finished work ages out whole — a lineage of work entries (the first entry, its
retries and requeues) with its runs, their child runs and logs — in bounded batches, never while
any of it is still in use or an operator may still need it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
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
            runs += _delete_runs(Metadata.objects.using(using).filter(work_queue_id__in=members))
            entries += (
                WorkQueue.objects.using(using)
                .filter(id__in=members)
                .delete()[1]
                .get("trax.WorkQueue", 0)
            )
    standalone = _finished_standalone_runs(ended_before, using=using)
    for _ in range(max_batches):
        batch = list(standalone.values_list("id", flat=True)[:batch_size])
        if not batch:
            break
        with transaction.atomic(using=using):
            runs += _delete_runs(Metadata.objects.using(using).filter(id__in=batch))
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


def _delete_runs(runs: Any) -> int:
    """Delete runs with their child runs, logs and job rows (cascades); returns how many runs."""
    return int(runs.delete()[1].get("trax.Metadata", 0))
