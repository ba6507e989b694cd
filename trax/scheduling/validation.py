"""Validation of a manifest as a whole, for forms (admin, dashboard): every problem is
reported on the field it concerns, and nothing is written."""

from __future__ import annotations

from django.db.models import Q

from trax.conf import get_settings
from trax.core import InputValidationError
from trax.core.serialization import normalise
from trax.models import Manifest, ScheduleType
from trax.registry import registry
from trax.scheduling.errors import DependencyCycleError, ScheduleError
from trax.scheduling.graph import check_group_dependencies, check_manifest_dependencies
from trax.scheduling.schedules import check_timezone, normalise_cron

DEPENDENT_TYPES = (ScheduleType.DEPENDENT, ScheduleType.DORMANT_DEPENDENT)


def manifest_problems(manifest: Manifest, *, using: str = "default") -> dict[str, str]:
    """Field name -> what is wrong with ``manifest`` (unsaved changes included). Normalises the
    cron expression in place when it is valid."""
    problems: dict[str, str] = {}
    kind = manifest.schedule_type
    if manifest.train_name not in registry:
        known = ", ".join(registry.names()) or "none"
        problems["train_name"] = (
            f"No train is registered as {manifest.train_name!r}. Registered trains: {known}."
        )
    else:
        train = registry.get(manifest.train_name)
        try:
            # normalise, not only from_json: what cannot be stored (NaN, NUL) or is too long is
            # refused here too, as at every other entry point.
            normalise(
                train.input_type,
                manifest.input,
                what=f"input of {manifest.train_name}",
                max_bytes=get_settings().MAX_INPUT_BYTES,
            )
        except InputValidationError as error:
            problems["input"] = str(error)
    try:
        check_timezone(manifest.timezone)
    except ScheduleError as error:
        problems["timezone"] = str(error)
    if kind == ScheduleType.INTERVAL and not (manifest.interval_seconds or 0) > 0:
        problems["interval_seconds"] = "An interval schedule needs an interval above 0 seconds."
    if kind == ScheduleType.CRON and not (manifest.cron_expression or "").strip():
        problems["cron_expression"] = "A cron schedule needs a cron expression."
    elif kind == ScheduleType.CRON:
        try:
            manifest.cron_expression = normalise_cron(manifest.cron_expression)
        except ScheduleError as error:
            problems["cron_expression"] = str(error)
    if kind == ScheduleType.ONCE and manifest.run_at is None:
        problems["run_at"] = "A 'once' schedule needs a time to run at."
    if kind in DEPENDENT_TYPES and manifest.depends_on_id is None:
        problems["depends_on"] = "A dependent schedule needs the manifest it depends on."
    if kind not in DEPENDENT_TYPES and manifest.depends_on_id is not None:
        problems["depends_on"] = "Only dependent schedules depend on another manifest."
    if manifest.timeout_seconds == 0:
        problems["timeout_seconds"] = "A timeout must be above 0 seconds (empty = the default)."
    if "depends_on" not in problems and manifest.group_id is not None:
        problems.update(_graph_problems(manifest, using=using))
    return problems


def _graph_problems(manifest: Manifest, *, using: str) -> dict[str, str]:
    rows = (
        Manifest.objects.using(using)
        .filter(~Q(pk=manifest.pk) if manifest.pk else Q())
        .values_list("external_id", "depends_on__external_id", "group__name")
    )
    depends_on: dict[str, str | None] = {}
    group_of: dict[str, str] = {}
    for external_id, parent, group in rows:
        depends_on[external_id] = parent
        group_of[external_id] = group
    parent_external_id = None
    if manifest.depends_on_id is not None:
        parent_external_id = (
            Manifest.objects.using(using)
            .filter(pk=manifest.depends_on_id)
            .values_list("external_id", flat=True)
            .first()
        )
    depends_on[manifest.external_id] = parent_external_id
    group_of[manifest.external_id] = manifest.group.name
    try:
        check_manifest_dependencies(depends_on)
    except DependencyCycleError as error:
        return {"depends_on": str(error)}
    try:
        check_group_dependencies(depends_on, group_of)
    except DependencyCycleError as error:
        return {"group": str(error)}
    return {}
