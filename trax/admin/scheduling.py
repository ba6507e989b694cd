"""Manifests and manifest groups: the configuration staff may edit (validated by the forms in
``trax.admin.forms``; each save and delete leaves an audit row)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.safestring import SafeString

from trax.admin.base import AuditedAdminMixin, actor_of, changelist_link
from trax.admin.forms import ManifestForm, ManifestGroupForm
from trax.models import DeadLetter, DeadLetterStatus, Manifest, ManifestGroup, Metadata, WorkQueue
from trax.scheduling.edits import save_manifest_edit
from trax.scheduling.runtime import scheduler
from trax.store import (
    audit_record,
    manifest_delete,
    manifest_deletion_blockers,
    manifest_group_save,
    manifest_set_enabled,
)

#: The admin writes through the default alias, like Django's own admin views.
WRITES = "default"


@admin.register(ManifestGroup)
class ManifestGroupAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Manifest groups: concurrency cap, priority and an on/off switch per group."""

    audit_noun = "manifest_group"
    form = ManifestGroupForm
    list_display = ("name", "priority", "max_active_jobs", "is_enabled", "manifest_count")
    list_filter = ("is_enabled",)
    search_fields = ("name",)
    ordering = ("name",)
    fieldsets = (
        ("Identity", {"fields": ("name",)}),
        ("Dispatch", {"fields": ("priority", "max_active_jobs", "is_enabled")}),
        ("Timing", {"fields": ("created_at", "updated_at")}),
        ("Links", {"fields": ("manifests_link",)}),
    )
    readonly_fields = ("created_at", "updated_at", "manifests_link")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(_manifest_count=Count("manifests"))

    def persist(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        manifest_group_save(obj, using=WRITES)

    @admin.display(description="manifests", ordering="_manifest_count")
    def manifest_count(self, obj: ManifestGroup) -> int:
        return int(getattr(obj, "_manifest_count", 0))

    @admin.display(description="manifests")
    def manifests_link(self, obj: ManifestGroup) -> SafeString | str:
        if obj.pk is None:
            return "-"
        count = obj.manifests.count()
        return changelist_link(
            Manifest, f"{count} manifest{'s' * (count != 1)}", group__id__exact=obj.pk
        )


@admin.register(Manifest)
class ManifestAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Manifests: what runs, with what input, when. Engine-kept columns (next run, last
    success) are shown read-only; switching one on or off marks it overridden, so the start-up
    sync leaves ``is_enabled`` alone (DESIGN.md §3)."""

    audit_noun = "manifest"
    form = ManifestForm
    list_display = (
        "external_id",
        "train_name",
        "schedule",
        "group",
        "priority",
        "is_enabled",
        "next_run_at",
        "last_successful_run",
        "blocked",
        "declared_in_code",
    )
    list_filter = ("schedule_type", "is_enabled", "group", "declared_in_code")
    search_fields = ("external_id", "train_name")
    list_select_related = ("group", "depends_on")
    ordering = ("external_id",)
    autocomplete_fields = ("depends_on",)
    actions = ("trigger_selected", "enable_selected", "disable_selected")
    fieldsets = (
        ("Identity", {"fields": ("external_id", "train_name", "group", "declared_in_code")}),
        ("Input", {"fields": ("input",)}),
        (
            "Schedule",
            {
                "fields": (
                    "schedule_type",
                    "interval_seconds",
                    "cron_expression",
                    "timezone",
                    "run_at",
                    "depends_on",
                    "misfire_policy",
                    "misfire_threshold_seconds",
                    "variance_seconds",
                )
            },
        ),
        ("Dispatch", {"fields": ("priority", "is_enabled", "is_enabled_overridden")}),
        (
            "Retries & timeouts",
            {"fields": ("max_retries", "retry_delay_seconds", "timeout_seconds")},
        ),
        (
            "State",
            {
                "fields": (
                    "next_run_at",
                    "last_successful_run",
                    "last_parent_success_seen",
                    "created_at",
                    "updated_at",
                )
            },
        ),
        ("Links", {"fields": ("runs_link", "queue_link", "dead_letters_link")}),
    )
    readonly_fields = (
        "declared_in_code",
        "is_enabled_overridden",
        "next_run_at",
        "last_successful_run",
        "last_parent_success_seen",
        "created_at",
        "updated_at",
        "runs_link",
        "queue_link",
        "dead_letters_link",
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not obj.declared_in_code:
            return fieldsets
        (title, options), *rest = fieldsets
        note = (
            "Declared in code: the next start-up sync restores the fields the code declares; "
            "only switching it on or off here sticks."
        )
        return [(title, {**options, "description": note}), *rest]

    def persist(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        changed = form.changed_data if change else ()
        save_manifest_edit(obj, changed, now=timezone.now(), using=WRITES)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """Django's confirmation page lists what protects an object and refuses the delete: a
        manifest others depend on, or with a dead letter awaiting a person, is listed there."""
        deleted, counts, _engine_rows, protected = super().get_deleted_objects(objs, request)
        blockers = manifest_deletion_blockers([obj.pk for obj in objs], using=WRITES)
        # The queued work and dead letters that go with a manifest are the store's to delete
        # (staff may not delete those rows one by one), so they need no permission of their own.
        return deleted, counts, set(), [*protected, *sorted(blockers.values())]

    def remove(self, request: HttpRequest, objs: list[Any]) -> None:
        manifest_delete([obj.pk for obj in objs], using=WRITES)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        awaiting = DeadLetter.objects.filter(
            manifest_id=OuterRef("pk"), status=DeadLetterStatus.AWAITING_INTERVENTION
        )
        return super().get_queryset(request).annotate(_blocked=Exists(awaiting))

    @admin.display(description="blocked by dead letter", boolean=True, ordering="_blocked")
    def blocked(self, obj: Manifest) -> bool:
        """A dead letter awaits a person: the manifest does not run until it is resolved."""
        return bool(getattr(obj, "_blocked", False))

    @admin.display(description="schedule", ordering="schedule_type")
    def schedule(self, obj: Manifest) -> str:
        if obj.schedule_type == "interval":
            return f"every {obj.interval_seconds} s"
        if obj.schedule_type == "cron":
            return f"cron {obj.cron_expression} ({obj.timezone})"
        if obj.schedule_type == "once":
            return f"once at {obj.run_at:%Y-%m-%d %H:%M:%S %Z}" if obj.run_at else "once"
        if obj.schedule_type in ("dependent", "dormant_dependent"):
            kind = obj.get_schedule_type_display().lower()
            return f"{kind} on {obj.depends_on}" if obj.depends_on_id else kind
        return obj.get_schedule_type_display().lower()

    @admin.display(description="runs")
    def runs_link(self, obj: Manifest) -> SafeString | str:
        if obj.pk is None:
            return "-"
        return changelist_link(Metadata, "runs of this manifest", manifest__id__exact=obj.pk)

    @admin.display(description="work queue")
    def queue_link(self, obj: Manifest) -> SafeString | str:
        if obj.pk is None:
            return "-"
        return changelist_link(WorkQueue, "queue entries", manifest__id__exact=obj.pk)

    @admin.display(description="dead letters")
    def dead_letters_link(self, obj: Manifest) -> SafeString | str:
        if obj.pk is None:
            return "-"
        awaiting = DeadLetter.objects.filter(
            manifest=obj, status=DeadLetterStatus.AWAITING_INTERVENTION
        ).exists()
        label = "dead letters (one awaiting intervention)" if awaiting else "dead letters"
        return changelist_link(DeadLetter, label, manifest__id__exact=obj.pk)

    @admin.action(description="Enable selected manifests", permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._switch(request, queryset, enabled=True)

    @admin.action(description="Disable selected manifests", permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._switch(request, queryset, enabled=False)

    def _switch(self, request: HttpRequest, queryset: QuerySet[Any], *, enabled: bool) -> None:
        ids = list(queryset.exclude(is_enabled=enabled).values_list("id", flat=True))
        manifest_set_enabled(ids, enabled, using="default")
        verb = "enable" if enabled else "disable"
        for manifest_id in ids:
            audit_record(
                actor=actor_of(request),
                action=f"manifest.{verb}",
                target=f"manifest:{manifest_id}",
                detail={"via": "admin"},
            )
        word = "manifest" if len(ids) == 1 else "manifests"
        self.message_user(request, f"{len(ids)} {word} {verb}d.", messages.SUCCESS)

    @admin.action(description="Trigger selected manifests now", permissions=["change"])
    def trigger_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        api = scheduler.as_actor(actor_of(request))
        external_ids = list(queryset.values_list("external_id", flat=True))
        for external_id in external_ids:
            api.trigger(external_id)
        word = "manifest" if len(external_ids) == 1 else "manifests"
        self.message_user(
            request, f"{len(external_ids)} {word} queued to run now.", messages.SUCCESS
        )
