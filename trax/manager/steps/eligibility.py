"""The guards every automatic occurrence passes: enabled, group enabled, no awaiting dead
letter, nothing queued, nothing pending or in progress."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef

from trax.models import (
    ACTIVE_STATES,
    DeadLetter,
    DeadLetterStatus,
    Manifest,
    Metadata,
    WorkQueue,
    WorkQueueStatus,
)


def eligible_manifests(using: str) -> Any:
    """Enabled manifests of enabled groups that are free to fire (a queryset)."""
    awaiting = DeadLetter.objects.using(using).filter(
        manifest_id=OuterRef("pk"), status=DeadLetterStatus.AWAITING_INTERVENTION
    )
    queued = WorkQueue.objects.using(using).filter(
        manifest_id=OuterRef("pk"), status=WorkQueueStatus.QUEUED
    )
    active = Metadata.objects.using(using).filter(
        manifest_id=OuterRef("pk"), train_state__in=ACTIVE_STATES
    )
    return (
        Manifest.objects.using(using)
        .filter(is_enabled=True, group__is_enabled=True)
        .exclude(Exists(awaiting))
        .exclude(Exists(queued))
        .exclude(Exists(active))
    )
