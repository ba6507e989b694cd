"""Admin forms: every rule the tables alone can check, reported on the field it concerns, before
anything is written (DESIGN.md §8: bad input changes nothing)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from trax.conf import get_settings, is_setting, setting_expectation, setting_problem
from trax.models import Manifest, ManifestGroup, RuntimeSettings, ScheduleType
from trax.models.choices import PRIORITY_MAX, PRIORITY_MIN
from trax.registry import registry
from trax.scheduling.validation import manifest_problems

DEPENDENT_SCHEDULES = (ScheduleType.DEPENDENT, ScheduleType.DORMANT_DEPENDENT)


def _check_priority(value: int | None) -> int | None:
    if value is not None and not PRIORITY_MIN <= value <= PRIORITY_MAX:
        raise ValidationError(
            f"Priority must be between {PRIORITY_MIN} and {PRIORITY_MAX}; got {value}.",
            code="priority_range",
        )
    return value


def _registered_names() -> str:
    names = registry.names()
    return ", ".join(names) if names else "(none)"


class ManifestGroupForm(forms.ModelForm):
    """A manifest group: name, concurrency cap, priority 0-31, switch."""

    class Meta:
        model = ManifestGroup
        fields = ["name", "max_active_jobs", "priority", "is_enabled"]
        help_texts = {"is_enabled": "Off: nothing in this group is dispatched."}

    def clean_priority(self) -> int | None:
        return _check_priority(self.cleaned_data.get("priority"))

    def clean_max_active_jobs(self) -> int | None:
        value = self.cleaned_data.get("max_active_jobs")
        if value is not None and value < 1:
            raise ValidationError(
                "A cap must be at least 1 (empty = no cap); 0 would never dispatch anything.",
                code="cap_range",
            )
        return value


class ManifestForm(forms.ModelForm):
    """A manifest, checked field by field and across fields (``clean``).

    The scheduling rules that need more than the tables (cron syntax and normalisation, the
    whole dependency graph, next run computation) belong to ``trax.scheduling`` and may be
    added to ``clean`` there; this form checks what the models can.
    """

    class Meta:
        model = Manifest
        fields = [
            "external_id",
            "train_name",
            "group",
            "input",
            "schedule_type",
            "interval_seconds",
            "cron_expression",
            "timezone",
            "run_at",
            "depends_on",
            "misfire_policy",
            "misfire_threshold_seconds",
            "variance_seconds",
            "priority",
            "is_enabled",
            "max_retries",
            "retry_delay_seconds",
            "timeout_seconds",
        ]
        labels = {"external_id": "Manifest id", "depends_on": "Depends on"}
        help_texts = {
            "external_id": "A stable name for this schedule, unique across manifests.",
            "input": "JSON for the train's input type; validated when saved.",
            "interval_seconds": "For interval schedules: seconds between runs (> 0).",
            "cron_expression": "For cron schedules: five fields, or six with seconds first.",
            "timezone": "IANA time zone the cron expression is evaluated in.",
            "run_at": "For 'once' schedules: when it runs.",
            "depends_on": "For dependent schedules: the manifest whose success triggers this.",
            "priority": f"{PRIORITY_MIN}-{PRIORITY_MAX}, higher goes first.",
            "max_retries": "Retries after a failure before a dead letter is created.",
            "timeout_seconds": "Empty = the global default job timeout.",
            "misfire_threshold_seconds": "Empty = the global default.",
            "variance_seconds": "Random jitter added to each next run.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "train_name" in self.fields:  # a subclass may leave the train as it is
            registered = _registered_names()
            self.fields[
                "train_name"
            ].help_text = f"A registered train name. Registered: {registered}."
        if self.instance.pk is not None and "depends_on" in self.fields:
            field = self.fields["depends_on"]
            field.queryset = field.queryset.exclude(pk=self.instance.pk)  # type: ignore[attr-defined]

    def clean_priority(self) -> int | None:
        return _check_priority(self.cleaned_data.get("priority"))

    def clean_train_name(self) -> str:
        name = (self.cleaned_data.get("train_name") or "").strip()
        if name not in registry:
            raise ValidationError(
                f"No train is registered as {name!r}. Registered trains: {_registered_names()}.",
                code="unknown_train",
            )
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        candidate = self.instance
        for name, value in cleaned.items():
            setattr(candidate, name, value)
        for field, problem in manifest_problems(candidate).items():
            self.add_error(field if field in self.fields else None, problem)
        if "cron_expression" in cleaned and not self.errors:
            cleaned["cron_expression"] = candidate.cron_expression
        return cleaned


class RuntimeSettingsForm(forms.ModelForm):
    """The runtime settings row: each value is checked like the same key in ``settings.TRAX``;
    an empty value defers to ``settings.TRAX`` (or the default)."""

    class Meta:
        model = RuntimeSettings
        fields = [
            "manager_polling_interval_seconds",
            "dispatcher_polling_interval_seconds",
            "max_active_jobs",
            "max_concurrent_dispatch",
            "default_max_retries",
            "retry_delay_seconds",
            "retry_backoff_multiplier",
            "max_retry_delay_seconds",
            "default_job_timeout_seconds",
            "stale_pending_timeout_seconds",
            "dead_letter_retention_seconds",
            "metadata_retention_seconds",
            "junction_progress",
            "log_capture",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = get_settings()
        for name, field in self.fields.items():
            setting = name.upper()
            if not is_setting(setting):
                continue
            expects = setting_expectation(setting).replace(" or None", "")
            field.help_text = (
                f"Must be {expects}. Empty = {getattr(current, setting)!r} "
                "(from settings.TRAX, or the default)."
            )
            if isinstance(field.widget, forms.NullBooleanSelect):
                field.widget.choices = [
                    ("unknown", "Default"),
                    ("true", "Yes"),
                    ("false", "No"),
                ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name, value in list(cleaned.items()):
            setting = name.upper()
            if value is None or not is_setting(setting) or name in self.errors:
                continue
            problem = setting_problem(setting, value)
            if problem:
                self.add_error(name, f"{problem[0].upper()}{problem[1:]}.")
        return cleaned
