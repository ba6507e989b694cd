"""Saving declarations as manifests: the start-up sync and the runtime API share this path, so
every entry point validates the same way and refuses dependency cycles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from trax.conf import get_settings
from trax.models import DeadLetter, DeadLetterStatus, Manifest, ManifestGroup
from trax.registry import registry
from trax.scheduling.declarations import ManifestDeclaration
from trax.scheduling.errors import ScheduleError
from trax.scheduling.graph import check_group_dependencies, check_manifest_dependencies
from trax.scheduling.next_run import refresh_next_run_at
from trax.scheduling.options import Group
from trax.store import manifest_delete, manifest_group_save, manifest_save

# Fields a declaration owns; is_enabled too, unless it was changed at runtime.
_DECLARED_FIELDS = (
    "train_name",
    "input",
    "schedule_type",
    "interval_seconds",
    "cron_expression",
    "timezone",
    "run_at",
    "priority",
    "max_retries",
    "retry_delay_seconds",
    "timeout_seconds",
    "misfire_policy",
    "misfire_threshold_seconds",
    "variance_seconds",
)


@dataclass(frozen=True)
class SaveReport:
    """What saving declarations did."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    pruned: tuple[str, ...]
    manifests: tuple[Manifest, ...]


def declared_values(declaration: ManifestDeclaration) -> dict[str, Any]:
    """The manifest column values a declaration sets (defaults filled from settings)."""
    options = declaration.options
    return {
        "train_name": declaration.train_name,
        "input": declaration.input,
        "schedule_type": declaration.schedule_type,
        "interval_seconds": declaration.interval_seconds,
        "cron_expression": declaration.cron_expression,
        "timezone": options.timezone or settings.TIME_ZONE,
        "run_at": declaration.run_at,
        "priority": options.priority,
        "max_retries": (
            options.max_retries
            if options.max_retries is not None
            else get_settings().DEFAULT_MAX_RETRIES
        ),
        "retry_delay_seconds": options.retry_delay_seconds,
        "timeout_seconds": options.timeout_seconds,
        "misfire_policy": options.misfire_policy,
        "misfire_threshold_seconds": options.misfire_threshold_seconds,
        "variance_seconds": options.variance_seconds,
    }


def save_declarations(
    declarations: Sequence[ManifestDeclaration],
    *,
    now: datetime,
    using: str = "default",
    declared_in_code: bool,
    prune_missing: bool = False,
) -> SaveReport:
    """Create or update manifests by external id in one transaction (never duplicate).

    Code owns the fields it declares, except ``is_enabled`` once changed at runtime;
    ``next_run_at`` is computed only when unset or when a schedule field changed. With
    ``prune_missing``, manifests declared in code earlier but not now are deleted (their queue
    entries and dead letters with them; their runs are kept), except one awaiting an operator.
    """
    unregistered = sorted({d.train_name for d in declarations if d.train_name not in registry})
    if unregistered:
        raise ScheduleError(
            f"only registered trains can be scheduled; not registered: {', '.join(unregistered)}",
            field="train",
        )
    with transaction.atomic(using=using):
        existing = {
            m.external_id: m
            for m in Manifest.objects.using(using)
            .select_related("depends_on", "group")
            .select_for_update(of=("self",))
        }
        doomed = _doomed(declarations, existing, using=using) if prune_missing else set()
        _check_graph(declarations, existing)
        groups = _save_groups(declarations, using=using)
        created: list[str] = []
        updated: list[str] = []
        saved: list[Manifest] = []
        for declaration in declarations:
            before = existing.get(declaration.external_id)
            manifest = before or Manifest(external_id=declaration.external_id)
            snapshot = _copy(before)
            was_enabled = before.is_enabled if before is not None else True
            for name, value in declared_values(declaration).items():
                setattr(manifest, name, value)
            if before is None or not before.is_enabled_overridden:
                manifest.is_enabled = declaration.options.is_enabled
                if not declared_in_code and manifest.is_enabled != was_enabled:
                    manifest.is_enabled_overridden = True  # a runtime switch, kept by syncs
            if (
                declaration.run_at_is_relative
                and snapshot is not None
                and snapshot.schedule_type == declaration.schedule_type
            ):
                manifest.run_at = snapshot.run_at
            manifest.group = groups[declaration.group_name]
            manifest.declared_in_code = declared_in_code or (
                before is not None and before.declared_in_code
            )
            previous_next_run = manifest.next_run_at
            refresh_next_run_at(snapshot, manifest, now)
            if before is None:
                manifest_save(manifest, using=using)
            else:
                # Only what the declaration owns: the columns the engine keeps (last success,
                # the parent success seen, next_run_at unless recomputed) are never written
                # back from this read, so a completion landing meanwhile is not undone.
                fields = [*_DECLARED_FIELDS, "group", "declared_in_code", "updated_at"]
                fields += ["is_enabled", "is_enabled_overridden"]
                if manifest.next_run_at != previous_next_run:
                    fields.append("next_run_at")
                manifest_save(manifest, update_fields=fields, using=using)
            existing[declaration.external_id] = manifest
            (updated if before else created).append(declaration.external_id)
            saved.append(manifest)
        for declaration, manifest in zip(declarations, saved, strict=True):
            parent = existing.get(declaration.depends_on) if declaration.depends_on else None
            if declaration.depends_on in doomed:
                raise ScheduleError(
                    f"{declaration.external_id} depends on {declaration.depends_on!r}, which is "
                    "no longer declared and would be pruned",
                    field="depends_on",
                )
            if declaration.depends_on and parent is None:
                raise ScheduleError(
                    f"{declaration.external_id} depends on {declaration.depends_on!r}, "
                    "which is neither declared nor an existing manifest",
                    field="depends_on",
                )
            if manifest.depends_on_id != (parent.pk if parent else None):
                manifest.depends_on = parent
                manifest_save(manifest, update_fields=["depends_on", "updated_at"], using=using)
        pruned = _prune(doomed, existing, using=using)
    return SaveReport(tuple(created), tuple(updated), tuple(pruned), tuple(saved))


def _copy(manifest: Manifest | None) -> Manifest | None:
    if manifest is None:
        return None
    clone = Manifest()
    for field in ("schedule_type", "interval_seconds", "cron_expression", "timezone", "run_at"):
        setattr(clone, field, getattr(manifest, field))
    clone.next_run_at = manifest.next_run_at
    return clone


def _check_graph(
    declarations: Sequence[ManifestDeclaration], existing: dict[str, Manifest]
) -> None:
    depends_on: dict[str, str | None] = {
        external_id: (m.depends_on.external_id if m.depends_on else None)
        for external_id, m in existing.items()
    }
    group_of = {external_id: m.group.name for external_id, m in existing.items()}
    for declaration in declarations:
        depends_on[declaration.external_id] = declaration.depends_on
        group_of[declaration.external_id] = declaration.group_name
    check_manifest_dependencies(depends_on)
    check_group_dependencies(depends_on, group_of)


def _save_groups(
    declarations: Sequence[ManifestDeclaration], *, using: str
) -> dict[str, ManifestGroup]:
    wanted: dict[str, Group] = {}
    for declaration in declarations:
        group = declaration.options.group or Group(declaration.group_name, declares_settings=False)
        if group.name != declaration.group_name:
            group = Group(declaration.group_name, declares_settings=False)
        if group.declares_settings or group.name not in wanted:
            wanted[group.name] = group
    rows = {g.name: g for g in ManifestGroup.objects.using(using).filter(name__in=list(wanted))}
    for name, group in wanted.items():
        row = rows.get(name)
        if row is None:
            row = ManifestGroup(name=name)
        elif not group.declares_settings:
            continue
        row.max_active_jobs = group.max_active_jobs
        row.priority = group.priority
        row.is_enabled = group.is_enabled
        manifest_group_save(row, using=using)
        rows[name] = row
    return rows


def _doomed(
    declarations: Sequence[ManifestDeclaration],
    existing: dict[str, Manifest],
    *,
    using: str,
) -> set[str]:
    """Manifests declared in code before but not now (keeping any awaiting an operator)."""
    declared = {d.external_id for d in declarations}
    awaiting = set(
        DeadLetter.objects.using(using)
        .filter(status=DeadLetterStatus.AWAITING_INTERVENTION)
        .values_list("manifest__external_id", flat=True)
    )
    return {
        external_id
        for external_id, m in existing.items()
        if m.declared_in_code and external_id not in declared and external_id not in awaiting
    }


def _prune(doomed: set[str], existing: dict[str, Manifest], *, using: str) -> list[str]:
    if not doomed:
        return []
    # A manifest still depended upon, or awaiting a person, stays until that is resolved.
    deleted = set(
        manifest_delete(
            [existing[external_id].pk for external_id in doomed], using=using, keep_blocked=True
        )
    )
    return sorted(external_id for external_id in doomed if existing[external_id].pk in deleted)
