"""Admin forms: every rule the tables alone can check, reported on the field it concerns, before
anything is written (DESIGN.md §8: bad input changes nothing)."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from trax.conf import get_settings, is_setting, setting_expectation, setting_problem
from trax.core import InputValidationError
from trax.core.serialization import from_json
from trax.models import Manifest, ManifestGroup, RuntimeSettings, ScheduleType
from trax.models.choices import PRIORITY_MAX, PRIORITY_MIN
from trax.registry import registry

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
        registered = _registered_names()
        self.fields["train_name"].help_text = f"A registered train name. Registered: {registered}."
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

    def clean_timezone(self) -> str:
        name = (self.cleaned_data.get("timezone") or "").strip()
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"{name!r} is not a known IANA time zone (such as 'UTC' or 'Europe/Paris').",
                code="unknown_timezone",
            ) from None
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self._check_schedule(cleaned)
        self._check_input(cleaned)
        return cleaned

    def _check_schedule(self, cleaned: dict[str, Any]) -> None:
        schedule_type = cleaned.get("schedule_type")
        if schedule_type == ScheduleType.INTERVAL:
            interval = cleaned.get("interval_seconds")
            if not interval or interval <= 0:
                self.add_error(
                    "interval_seconds", "An interval schedule needs an interval above 0 seconds."
                )
        elif schedule_type == ScheduleType.CRON:
            if not (cleaned.get("cron_expression") or "").strip():
                self.add_error("cron_expression", "A cron schedule needs a cron expression.")
        elif schedule_type == ScheduleType.ONCE:
            if cleaned.get("run_at") is None:
                self.add_error("run_at", "A 'once' schedule needs a time to run at.")
        elif schedule_type in DEPENDENT_SCHEDULES:
            parent = cleaned.get("depends_on")
            if parent is None:
                if "depends_on" not in self.errors:
                    self.add_error(
                        "depends_on", "A dependent schedule needs the manifest it depends on."
                    )
            elif self._would_cycle(parent):
                self.add_error(
                    "depends_on",
                    f"Depending on {parent} would make a cycle: it depends on this manifest.",
                )

    def _would_cycle(self, parent: Manifest) -> bool:
        """Whether ``parent``'s own chain of dependencies leads back to this manifest."""
        own_pk = self.instance.pk
        if own_pk is None:
            return False
        seen: set[int] = set()
        current: int | None = parent.pk
        while current is not None and current not in seen:
            if current == own_pk:
                return True
            seen.add(current)
            current = (
                Manifest.objects.filter(pk=current).values_list("depends_on_id", flat=True).first()
            )
        return False

    def _check_input(self, cleaned: dict[str, Any]) -> None:
        name = cleaned.get("train_name")
        if not name or "input" in self.errors or name not in registry:
            return
        train = registry.get(name)
        try:
            from_json(train.input_type, cleaned.get("input"), what=f"input of {name}")
        except InputValidationError as error:
            self.add_error("input", str(error))


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
