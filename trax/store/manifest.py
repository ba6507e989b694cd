"""Writers of manifest scheduling state (``trax_manifest``) and of the work entries that
scheduling creates (``trax_work_queue``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, Q, Subquery, Value, When

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
    """Set ``next_run_at`` of many manifests (one UPDATE per batch of 500, one for all None)."""
    manifests = Manifest.objects.using(using)
    unset = [manifest_id for manifest_id, at in moves if at is None]
    updated = manifests.filter(id__in=unset).update(next_run_at=None) if unset else 0
    timed = [(manifest_id, at) for manifest_id, at in moves if at is not None]
    for start in range(0, len(timed), 500):
        batch = timed[start : start + 500]
        updated += manifests.filter(id__in=[manifest_id for manifest_id, _ in batch]).update(
            next_run_at=Case(
                *[When(id=manifest_id, then=Value(at)) for manifest_id, at in batch],
                output_field=DateTimeField(),
            )
        )
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
