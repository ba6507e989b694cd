"""Writers of manifest scheduling state (``trax_manifest``) and of the work entries that
scheduling creates (``trax_work_queue``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connections, transaction
from django.db.models import Case, Q, Subquery, Value, When

from trax.events.channels import WORK_QUEUED
from trax.events.notify import notify
from trax.models import Manifest, Metadata, ScheduleType, WorkQueue


def manifest_record_success(manifest_id: int, metadata_id: int, *, using: str) -> None:
    """Stamp the manifest's last success with the run's end time; a ``once`` manifest disables
    itself (and stays disabled through start-up syncs). Runs inside the run's finish
    transaction."""
    end_time = Metadata.objects.using(using).filter(id=metadata_id).values("end_time")[:1]
    once = Q(schedule_type=ScheduleType.ONCE)
    Manifest.objects.using(using).filter(id=manifest_id).update(
        last_successful_run=Subquery(end_time),
        is_enabled=Case(When(once, then=Value(False)), default="is_enabled"),
        is_enabled_overridden=Case(When(once, then=Value(True)), default="is_enabled_overridden"),
    )


@dataclass(frozen=True)
class Occurrence:
    """One due occurrence to queue: the entry, and where the manifest's schedule moves next."""

    entry: WorkQueue
    next_run_at: datetime | None


def manifest_queue_occurrences(occurrences: Sequence[Occurrence], *, using: str) -> int:
    """Queue a batch of due occurrences and advance each manifest's ``next_run_at``, in one
    transaction. The partial unique index (one queued entry per manifest) refuses doubles, so a
    racing scheduler cannot double-queue; those rows are skipped. Returns entries written."""
    if not occurrences:
        return 0
    with transaction.atomic(using=using):
        entries = [o.entry for o in occurrences]
        WorkQueue.objects.using(using).bulk_create(entries, ignore_conflicts=True, batch_size=500)
        moves = [(o.entry.manifest_id, o.next_run_at) for o in occurrences]
        manifest_advance(moves, using=using)  # type: ignore[arg-type]
        written = (
            WorkQueue.objects.using(using)
            .filter(external_id__in=[entry.external_id for entry in entries])
            .count()
        )
        if written:
            notify(WORK_QUEUED, using=using)
    return written


def manifest_advance(moves: Sequence[tuple[int, datetime | None]], *, using: str) -> int:
    """Set ``next_run_at`` of many manifests: one statement per batch of 1,000 on PostgreSQL
    (an ``UPDATE ... FROM (VALUES ...)``), a prepared statement per row on SQLite."""
    if not moves:
        return 0
    connection = connections[using]
    adapt = connection.ops.adapt_datetimefield_value
    updated = 0
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(
                "UPDATE trax_manifest SET next_run_at = %s WHERE id = %s",
                [(adapt(at), manifest_id) for manifest_id, at in moves],
            )
            return len(moves)
        for start in range(0, len(moves), 1000):
            batch = moves[start : start + 1000]
            rows = ", ".join(["(%s, %s::timestamptz)"] * len(batch))
            cursor.execute(
                "UPDATE trax_manifest AS manifest SET next_run_at = moved.at "
                f"FROM (VALUES {rows}) AS moved(id, at) WHERE manifest.id = moved.id",
                [value for manifest_id, at in batch for value in (manifest_id, at)],
            )
            updated += cursor.rowcount
    return updated


def manifest_queue_dependent(entry: WorkQueue, parent_success: datetime, *, using: str) -> bool:
    """Queue a dependent's entry and record the parent success it acted on, in one transaction
    (so a success landing meanwhile is seen next cycle). False if something is already queued."""
    assert entry.manifest_id is not None
    try:
        with transaction.atomic(using=using):
            entry.save(using=using, force_insert=True)
            Manifest.objects.using(using).filter(id=entry.manifest_id).update(
                last_parent_success_seen=parent_success
            )
            notify(WORK_QUEUED, using=using)
    except IntegrityError:
        return False
    return True


def manifest_set_enabled(manifest_ids: Sequence[int], enabled: bool, *, using: str) -> int:
    """Enable or disable manifests at runtime; the start-up sync then leaves ``is_enabled``."""
    return (
        Manifest.objects.using(using)
        .filter(id__in=manifest_ids)
        .update(is_enabled=enabled, is_enabled_overridden=True)
    )
