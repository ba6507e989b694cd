"""Writers of manifest scheduling state (``trax_manifest``) and of the work entries that
scheduling creates (``trax_work_queue``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connections, transaction
from django.db.models import Case, Q, Subquery, Value, When

from trax.events.channels import WORK_QUEUED
from trax.events.notify import notify, notify_changed
from trax.models import (
    DeadLetter,
    DeadLetterStatus,
    Manifest,
    ManifestGroup,
    Metadata,
    ScheduleType,
    WorkQueue,
)
from trax.store.work_entries.queue import NewWorkEntry


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

    entry: NewWorkEntry
    next_run_at: datetime | None


def manifest_queue_occurrences(occurrences: Sequence[Occurrence], *, using: str) -> int:
    """Queue a batch of due occurrences and advance each manifest's ``next_run_at``, in one
    transaction. The partial unique index (one queued entry per manifest) refuses doubles, so a
    racing scheduler cannot double-queue; those rows are skipped. Returns entries written."""
    if not occurrences:
        return 0
    with transaction.atomic(using=using):
        entries = [o.entry for o in occurrences]
        WorkQueue.objects.using(using).bulk_create(
            [e.row() for e in entries], ignore_conflicts=True, batch_size=500
        )
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


def manifest_queue_dependent(entry: NewWorkEntry, parent_success: datetime, *, using: str) -> bool:
    """Queue a dependent's entry and record the parent success it acted on, in one transaction
    (so a success landing meanwhile is seen next cycle). False if something is already queued."""
    assert entry.manifest_id is not None
    try:
        with transaction.atomic(using=using):
            entry.row().save(using=using, force_insert=True)
            Manifest.objects.using(using).filter(id=entry.manifest_id).update(
                last_parent_success_seen=parent_success
            )
            notify(WORK_QUEUED, using=using)
    except IntegrityError:
        return False
    return True


def manifest_set_enabled(manifest_ids: Sequence[int], enabled: bool, *, using: str) -> int:
    """Enable or disable manifests at runtime; the start-up sync then leaves ``is_enabled``."""
    with transaction.atomic(using=using):
        changed = (
            Manifest.objects.using(using)
            .filter(id__in=manifest_ids)
            .update(is_enabled=enabled, is_enabled_overridden=True)
        )
        notify_changed("schedules", using=using)
    return changed


class ManifestInUseError(Exception):
    """A manifest others depend on, or with a dead letter awaiting a person, cannot be deleted."""


def manifest_save(
    manifest: Manifest, *, update_fields: Sequence[str] | None = None, using: str
) -> None:
    """Insert a new manifest, or write ``update_fields`` of an existing one (only the columns
    the caller owns: a completion's last success is never written back from an older read)."""
    with transaction.atomic(using=using):
        if manifest.pk is None or update_fields is None:
            manifest.save(using=using)
        else:
            manifest.save(using=using, update_fields=list(update_fields))
        notify_changed("schedules", using=using)


def manifest_group_save(group: ManifestGroup, *, using: str) -> None:
    """Insert or update a manifest group (its dispatch controls)."""
    with transaction.atomic(using=using):
        group.save(using=using)
        notify_changed("schedules", using=using)


def manifest_deletion_blockers(manifest_ids: Sequence[int], *, using: str) -> dict[int, str]:
    """Why each of these manifests cannot be deleted with the others (absent: it can): another
    manifest depends on it, or it has a dead letter awaiting intervention."""
    doomed = set(manifest_ids)
    blockers: dict[int, str] = {}
    for parent_id, child, parent in (
        Manifest.objects.using(using)
        .filter(depends_on_id__in=doomed)
        .exclude(id__in=doomed)
        .values_list("depends_on_id", "external_id", "depends_on__external_id")
    ):
        blockers[parent_id] = f"manifest {child!r} depends on {parent!r}"
    for manifest_id, letter, name in (
        DeadLetter.objects.using(using)
        .filter(manifest_id__in=doomed, status=DeadLetterStatus.AWAITING_INTERVENTION)
        .values_list("manifest_id", "id", "manifest__external_id")
    ):
        blockers[manifest_id] = f"manifest {name!r} has dead letter #{letter} awaiting intervention"
    return blockers


def manifest_delete(
    manifest_ids: Sequence[int], *, using: str, keep_blocked: bool = False
) -> list[int]:
    """Delete manifests with their queued work and dead letters (their runs stay, unlinked).
    A manifest with a blocker is refused: the whole call (``ManifestInUseError``), or with
    ``keep_blocked`` only that manifest, which stays. Returns the ids deleted."""
    with transaction.atomic(using=using):
        locked = list(
            Manifest.objects.using(using)
            .select_for_update()
            .filter(id__in=list(manifest_ids))
            .values_list("id", flat=True)
        )
        blockers = manifest_deletion_blockers(locked, using=using)
        if blockers and not keep_blocked:
            raise ManifestInUseError("; ".join(sorted(blockers.values())))
        deleted = [manifest_id for manifest_id in locked if manifest_id not in blockers]
        Manifest.objects.using(using).filter(id__in=deleted).delete()
    return deleted


def manifest_group_caps(group_ids: Sequence[int], *, using: str) -> dict[int, int | None]:
    """Each group's ``max_active_jobs`` (None: no cap)."""
    if not group_ids:
        return {}
    return dict(
        ManifestGroup.objects.using(using)
        .filter(id__in=list(group_ids))
        .values_list("id", "max_active_jobs")
    )
