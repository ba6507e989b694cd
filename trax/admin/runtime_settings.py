"""Runtime settings: one row staff may edit; its values override ``settings.TRAX``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from trax.admin.base import AuditedAdminMixin, actor_of
from trax.admin.forms import RuntimeSettingsForm
from trax.models import RuntimeSettings
from trax.store import run_records_alias, runtime_settings_update


@admin.register(RuntimeSettings)
class RuntimeSettingsAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """A singleton: it can be added while there is none, changed, never deleted."""

    audit_noun = "runtime_settings"
    form = RuntimeSettingsForm
    list_display = ("__str__", "updated_at", "updated_by")
    fieldsets = (
        (
            "Scheduler and dispatcher",
            {
                "fields": (
                    "manager_polling_interval_seconds",
                    "dispatcher_polling_interval_seconds",
                    "max_active_jobs",
                    "max_concurrent_dispatch",
                )
            },
        ),
        (
            "Retries",
            {
                "fields": (
                    "default_max_retries",
                    "retry_delay_seconds",
                    "retry_backoff_multiplier",
                    "max_retry_delay_seconds",
                )
            },
        ),
        (
            "Timeouts",
            {"fields": ("default_job_timeout_seconds", "stale_pending_timeout_seconds")},
        ),
        (
            "Retention",
            {"fields": ("dead_letter_retention_seconds", "metadata_retention_seconds")},
        ),
        ("Run effects", {"fields": ("junction_progress", "log_capture")}),
        ("Changed", {"fields": ("updated_at", "updated_by")}),
    )
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not RuntimeSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Through the store's one writer (as the console): one ``settings.change`` audit row
        of what changed, a notice to open console pages."""
        using = run_records_alias()
        runtime_settings_update(
            {name: form.cleaned_data[name] for name in form.changed_data},
            actor=actor_of(request),
            using=using,
        )
        row = RuntimeSettings.objects.using(using).order_by("id").first()
        if row is not None:  # the admin's redirect names the row it saved
            obj.pk, obj.updated_by, obj.updated_at = row.pk, row.updated_by, row.updated_at
