"""Writers of dead letters (``trax_dead_letter``): created by the manager, resolved by operators."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Now

from trax.events.channels import WORK_QUEUED
from trax.events.notify import notify, notify_changed
from trax.models import DeadLetter, DeadLetterStatus, Manifest, WorkQueue


def dead_letter_create(letters: Sequence[DeadLetter], *, using: str) -> int:
    """Insert dead letters; the partial unique index keeps one awaiting letter per manifest,
    so a duplicate is skipped. Returns how many were new."""
    if not letters:
        return 0
    manifest_ids = [letter.manifest_id for letter in letters]
    awaiting = DeadLetter.objects.using(using).filter(
        manifest_id__in=manifest_ids, status=DeadLetterStatus.AWAITING_INTERVENTION
    )
    before = awaiting.count()
    DeadLetter.objects.using(using).bulk_create(letters, ignore_conflicts=True)
    created = awaiting.count() - before
    if created:
        notify_changed("dead_letters", using=using)
    return created


def dead_letter_retry(
    ids: Sequence[int], *, actor: str, note: str = "", using: str = "default"
) -> list[WorkQueue]:
    """Resolve awaiting dead letters as ``retried``: each gets a new work entry with its
    manifest's input (linked to the letter), skipped when the manifest already has one queued.
    Guarded by status, so two operators cannot both retry one letter."""
    entries: list[WorkQueue] = []
    with transaction.atomic(using=using):
        letters = list(
            DeadLetter.objects.using(using)
            .select_for_update()
            .filter(id__in=ids, status=DeadLetterStatus.AWAITING_INTERVENTION)
            .select_related("manifest")
        )
        for letter in letters:
            manifest: Manifest = letter.manifest
            updated = (
                DeadLetter.objects.using(using)
                .filter(id=letter.pk, status=DeadLetterStatus.AWAITING_INTERVENTION)
                .update(
                    status=DeadLetterStatus.RETRIED,
                    resolved_at=Now(),
                    resolved_by=actor[:255],
                    resolution_note=note,
                )
            )
            if not updated:
                continue
            _settle_failures([letter.manifest_id], using=using)
            if WorkQueue.objects.using(using).filter(manifest=manifest, status="queued").exists():
                continue
            entry = WorkQueue(
                train_name=manifest.train_name,
                input=manifest.input,
                manifest=manifest,
                priority=manifest.priority,
                dead_letter=letter,
                is_explicit_trigger=True,
            )
            entry.save(using=using, force_insert=True)
            entries.append(entry)
        if entries:
            notify(WORK_QUEUED, using=using)
        if letters:
            notify_changed("dead_letters", using=using)
    return entries


def dead_letter_acknowledge(
    ids: Sequence[int], *, actor: str, note: str, using: str = "default"
) -> int:
    """Resolve awaiting dead letters as ``acknowledged`` with a note; returns how many."""
    with transaction.atomic(using=using):
        awaiting = DeadLetter.objects.using(using).filter(
            id__in=ids, status=DeadLetterStatus.AWAITING_INTERVENTION
        )
        manifest_ids = list(awaiting.select_for_update().values_list("manifest_id", flat=True))
        resolved = awaiting.update(
            status=DeadLetterStatus.ACKNOWLEDGED,
            resolved_at=Now(),
            resolved_by=actor[:255],
            resolution_note=note,
        )
        _settle_failures(manifest_ids, using=using)
        if resolved:
            notify_changed("dead_letters", using=using)
    return resolved


def _settle_failures(manifest_ids: Sequence[int], *, using: str) -> None:
    """A resolution settles the manifest's failures so far: they count toward nothing again
    (the watermark moves to its latest resolution's time)."""
    latest = (
        DeadLetter.objects.using(using)
        .filter(manifest_id=OuterRef("pk"), resolved_at__isnull=False)
        .order_by("-resolved_at")
        .values("resolved_at")[:1]
    )
    Manifest.objects.using(using).filter(id__in=list(manifest_ids)).update(
        failure_watermark=Subquery(latest)
    )


def dead_letter_purge_resolved(before: datetime, *, using: str, batch_size: int = 1000) -> int:
    """Delete resolved dead letters resolved before ``before``, in batches."""
    deleted = 0
    resolved = DeadLetter.objects.using(using).filter(
        resolved_at__lt=before,
        status__in=(DeadLetterStatus.RETRIED, DeadLetterStatus.ACKNOWLEDGED),
    )
    while True:
        batch = list(resolved.values_list("id", flat=True)[:batch_size])
        if not batch:
            return deleted
        deleted += (
            DeadLetter.objects.using(using)
            .filter(id__in=batch)
            .delete()[1]
            .get("trax.DeadLetter", 0)
        )
