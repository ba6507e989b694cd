"""Saving a manifest edited by a person (the admin, the console): the same writes from both."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from trax.models import Manifest
from trax.scheduling.next_run import refresh_next_run_at
from trax.store import manifest_save


def save_manifest_edit(
    manifest: Manifest, changed: Iterable[str], *, now: datetime, using: str = "default"
) -> None:
    """Save a validated ``manifest`` whose ``changed`` fields a person edited. Switching it on
    or off marks it overridden (the start-up sync leaves ``is_enabled``); a changed schedule
    moves ``next_run_at``. Only those columns are written: the engine's own (last success,
    parent success seen) are never written back from the form's read."""
    changed = set(changed)
    before = Manifest.objects.using(using).filter(pk=manifest.pk).first() if manifest.pk else None
    if before is not None and "is_enabled" in changed:
        manifest.is_enabled_overridden = True
    refresh_next_run_at(before, manifest, now)
    if before is None:
        manifest_save(manifest, using=using)
        return
    fields = changed | {"updated_at"}
    if "is_enabled" in fields:
        fields.add("is_enabled_overridden")
    if manifest.next_run_at != before.next_run_at:
        fields.add("next_run_at")
    manifest_save(manifest, update_fields=sorted(fields), using=using)
