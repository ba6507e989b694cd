"""The runtime settings row (``trax_runtime_settings``): its one writer, and what each runtime
setting is now and where that value comes from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from trax.conf import (
    DEFAULTS,
    forget_runtime_settings,
    get_settings,
    setting_expectation,
)
from trax.events.notify import notify_changed
from trax.models import RuntimeSettings
from trax.store.audit import audit_record

#: The row's columns that are settings (the rest is bookkeeping).
COLUMNS = tuple(
    field.name for field in RuntimeSettings._meta.concrete_fields if field.name.upper() in DEFAULTS
)


class UnknownRuntimeSetting(ValueError):
    """A name that is not a runtime setting."""


@dataclass(frozen=True)
class RuntimeSettingState:
    """One runtime setting: its name, the value in force, the default, and its source."""

    name: str
    value: Any
    default: Any
    source: str  # "runtime", "settings.TRAX" or "default"
    runtime: Any
    expects: str


def runtime_settings_update(
    changes: Mapping[str, Any], *, actor: str, using: str
) -> dict[str, tuple[Any, Any]]:
    """Set the row's columns named in ``changes`` (None = back to settings.TRAX), values
    already checked (the admin's and console's form check them as settings.TRAX is checked);
    one transaction with one audit row of what changed, and a ``settings`` notification.
    Returns {column: (before, after)} of what changed; nothing is written when that is empty."""
    unknown = sorted(set(changes) - set(COLUMNS))
    if unknown:
        raise UnknownRuntimeSetting(f"not runtime settings: {', '.join(unknown)}")
    with transaction.atomic(using=using):
        row = (
            RuntimeSettings.objects.using(using).select_for_update().order_by("id").first()
            or RuntimeSettings()
        )
        changed = {
            name: (getattr(row, name), value)
            for name, value in changes.items()
            if getattr(row, name) != value
        }
        if not changed:
            return {}
        for name, (_, value) in changed.items():
            setattr(row, name, value)
        row.updated_by = actor[:255]
        row.save(using=using)
        audit_record(
            actor=actor,
            action="settings.change",
            target="runtime_settings",
            detail={name: [before, after] for name, (before, after) in changed.items()},
            using=using,
        )
        notify_changed("settings", using=using)
    forget_runtime_settings()
    return changed


def runtime_settings_states(*, using: str) -> tuple[list[RuntimeSettingState], Any]:
    """Every runtime setting as it stands (and the row, None before the first save)."""
    row = RuntimeSettings.objects.using(using).order_by("id").first()
    configured = get_settings().user_values
    states = []
    for name in COLUMNS:
        key = name.upper()
        runtime = getattr(row, name) if row is not None else None
        if runtime is not None:
            value, source = runtime, "runtime"
        elif key in configured:
            value, source = configured[key], "settings.TRAX"
        else:
            value, source = DEFAULTS[key], "default"
        states.append(
            RuntimeSettingState(
                name=key,
                value=value,
                default=DEFAULTS[key],
                source=source,
                runtime=runtime,
                expects=setting_expectation(key),
            )
        )
    return states, row
