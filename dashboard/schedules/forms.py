"""The schedule's edit form: the admin's manifest form (the same field checks and the same
``manifest_problems`` as the Python API) on the fields an operator tunes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.db.models import Model

from trax.admin.forms import ManifestForm, ManifestGroupForm
from trax.models import Manifest


class ScheduleForm(ManifestForm):
    """Schedule and options of an existing manifest (its name and train stay)."""

    depends_on = forms.ModelChoiceField(
        queryset=Manifest.objects.all(),
        to_field_name="external_id",
        required=False,
        label="Depends on",
        help_text="For dependent schedules: the name of the manifest whose success runs this.",
        widget=forms.TextInput,
        error_messages={"invalid_choice": "No manifest is named %(value)s."},
    )

    class Meta(ManifestForm.Meta):
        fields = [
            "schedule_type",
            "interval_seconds",
            "cron_expression",
            "timezone",
            "run_at",
            "depends_on",
            "group",
            "input",
            "priority",
            "is_enabled",
            "max_retries",
            "retry_delay_seconds",
            "timeout_seconds",
            "misfire_policy",
            "misfire_threshold_seconds",
            "variance_seconds",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parent = self.instance.depends_on if self.instance.depends_on_id else None
        self.initial["depends_on"] = parent.external_id if parent else ""


class GroupForm(ManifestGroupForm):
    """A group's dispatch controls (the admin's form and checks)."""


def problems_of(form: forms.BaseForm) -> str:
    """Every error of ``form`` as one line naming each field: "Cron expression: ..."."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else None
        text = " ".join(str(error) for error in errors)
        parts.append(f"{label or name}: {text}" if name != "__all__" else text)
    return "; ".join(parts)


def snapshot(instance: Model, fields: list[str]) -> dict[str, Any]:
    """``fields`` of ``instance`` as JSON values (related rows by name), for the audit row."""
    return {name: _plain(getattr(instance, name)) for name in fields}


def _plain(value: Any) -> Any:
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
