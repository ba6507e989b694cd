"""The work queue, the background-job queue and dead letters: engine-owned, read-only here.

Retrying or acknowledging a dead letter goes through the scheduler API (``trax.store``), not
through editing rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.safestring import SafeString

from trax.admin.base import (
    CappedCountMixin,
    EngineOwnedAdmin,
    IdentifierSearchMixin,
    actor_of,
    preformatted,
    pretty_json,
)
from trax.models import BackgroundJob, DeadLetter, DeadLetterStatus, WorkQueue
from trax.scheduling.runtime import scheduler


@admin.register(WorkQueue)
class WorkQueueAdmin(CappedCountMixin, IdentifierSearchMixin, EngineOwnedAdmin):
    """Work between scheduling and dispatch, next to dispatch first."""

    list_display = (
        "id",
        "train_name",
        "manifest",
        "status",
        "priority",
        "scheduled_at",
        "attempt",
        "dispatch_attempts",
        "is_explicit_trigger",
        "created_at",
        "dispatched_at",
    )
    list_display_links = ("id", "train_name")
    list_filter = ("status", "is_explicit_trigger", ("created_at", admin.DateFieldListFilter))
    search_fields = ("train_name", "manifest__external_id")
    search_help_text = "An entry id, its external id (UUID), a train name or a manifest id."
    list_select_related = ("manifest",)
    ordering = ("-priority", "created_at", "id")
    fieldsets = (
        ("Identity", {"fields": ("external_id", "train_name", "manifest", "is_explicit_trigger")}),
        (
            "State",
            {"fields": ("status", "priority", "attempt", "dispatch_attempts", "max_retries")},
        ),
        ("Timing", {"fields": ("created_at", "scheduled_at", "dispatched_at")}),
        ("Input", {"fields": ("input_json",)}),
        (
            "Links",
            {
                "fields": (
                    "origin",
                    "retry_of",
                    "metadata",
                    "dead_letter",
                    "parent_success_stamp",
                )
            },
        ),
    )
    readonly_fields = (
        "external_id",
        "train_name",
        "manifest",
        "is_explicit_trigger",
        "status",
        "priority",
        "attempt",
        "dispatch_attempts",
        "max_retries",
        "created_at",
        "scheduled_at",
        "dispatched_at",
        "input_json",
        "origin",
        "retry_of",
        "metadata",
        "dead_letter",
        "parent_success_stamp",
    )

    @admin.display(description="input")
    def input_json(self, obj: WorkQueue) -> SafeString:
        return pretty_json(obj.input)


class ClaimedFilter(admin.SimpleListFilter):
    title = "claim"
    parameter_name = "claim"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("free", "Waiting for a worker"),
            ("claimed", "Claimed, lease live"),
            ("expired", "Claimed, lease expired"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "free":
            return queryset.filter(claimed_by__isnull=True)
        if self.value() == "claimed":
            return queryset.filter(claimed_by__isnull=False, lease_expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(claimed_by__isnull=False, lease_expires_at__lte=now)
        return queryset


@admin.register(BackgroundJob)
class BackgroundJobAdmin(EngineOwnedAdmin):
    """The database job queue: dispatched runs waiting for, or held by, a worker."""

    list_display = (
        "id",
        "metadata",
        "priority",
        "claimed_by",
        "lease_expires_at",
        "lease_live",
        "attempt",
        "created_at",
    )
    list_filter = (ClaimedFilter,)
    search_fields = ("claimed_by", "metadata__name")
    list_select_related = ("metadata",)
    ordering = ("-priority", "id")
    fieldsets = (
        ("Identity", {"fields": ("metadata", "priority", "attempt", "created_at")}),
        ("Claim", {"fields": ("claimed_by", "claim_token", "lease_expires_at", "lease_live")}),
    )
    readonly_fields = (
        "metadata",
        "priority",
        "attempt",
        "created_at",
        "claimed_by",
        "claim_token",
        "lease_expires_at",
        "lease_live",
    )

    @admin.display(description="lease live", boolean=True)
    def lease_live(self, obj: BackgroundJob) -> bool | None:
        if obj.claimed_by is None or obj.lease_expires_at is None:
            return None
        return obj.lease_expires_at > timezone.now()


@admin.register(DeadLetter)
class DeadLetterAdmin(EngineOwnedAdmin):
    """Manifests whose retries ran out, waiting for an operator."""

    list_display = (
        "id",
        "manifest",
        "status",
        "retry_count",
        "short_reason",
        "dead_lettered_at",
        "resolved_at",
        "resolved_by",
    )
    list_display_links = ("id", "manifest")
    list_filter = ("status", ("dead_lettered_at", admin.DateFieldListFilter))
    search_fields = ("manifest__external_id", "manifest__train_name", "reason")
    list_select_related = ("manifest",)
    date_hierarchy = "dead_lettered_at"
    ordering = ("-dead_lettered_at", "-id")
    fieldsets = (
        ("Identity", {"fields": ("manifest", "status", "retry_count")}),
        ("Failure", {"fields": ("reason_text", "last_failed_run", "latest_failure")}),
        ("Timing", {"fields": ("dead_lettered_at", "resolved_at")}),
        ("Resolution", {"fields": ("resolved_by", "resolution_note", "retry_run")}),
    )
    readonly_fields = (
        "manifest",
        "status",
        "retry_count",
        "reason_text",
        "last_failed_run",
        "latest_failure",
        "dead_lettered_at",
        "resolved_at",
        "resolved_by",
        "resolution_note",
        "retry_run",
    )

    actions = ("retry_selected", "acknowledge_selected")

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        """Resolving dead letters needs the change permission on them."""
        return request.user.has_perm("trax.change_deadletter")

    @admin.action(description="Retry selected dead letters", permissions=["resolve"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        awaiting = list(
            queryset.filter(status=DeadLetterStatus.AWAITING_INTERVENTION).values_list(
                "id", flat=True
            )
        )
        skipped = queryset.count() - len(awaiting)
        entries = scheduler.as_actor(actor_of(request)).retry_dead_letters(
            awaiting, note="retried in the admin"
        )
        message = f"{len(awaiting)} dead letter(s) retried, {len(entries)} run(s) queued."
        if skipped:
            message += f" {skipped} already resolved, skipped."
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(
        description="Acknowledge selected dead letters (with a note)", permissions=["resolve"]
    )
    def acknowledge_selected(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        """Asks for the note first (a page of its own), then resolves the awaiting letters."""
        letters = list(queryset.filter(status=DeadLetterStatus.AWAITING_INTERVENTION))
        skipped = queryset.count() - len(letters)
        note = str(request.POST.get("note", "")).strip()
        if not letters:
            self.message_user(request, "No selected dead letter awaits a person.", messages.INFO)
            return None
        if request.POST.get("apply") and note:
            count = scheduler.as_actor(actor_of(request)).acknowledge_dead_letters(
                [letter.pk for letter in letters], note=note
            )
            message = f"{count} dead letter(s) acknowledged."
            if skipped:
                message += f" {skipped} already resolved, skipped."
            self.message_user(request, message, messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "letters": letters,
            "note": note,
            "error": "Say why (the note is required)." if request.POST.get("apply") else "",
            "title": "Acknowledge dead letters",
        }
        return TemplateResponse(request, "admin/trax/deadletter/acknowledge.html", context)

    @admin.display(description="latest failure")
    def latest_failure(self, obj: DeadLetter) -> SafeString | str:
        run = obj.last_failed_run
        if run is None:
            return "—"
        where = f"in junction {run.failure_junction}" if run.failure_junction else ""
        summary = f"{run.failure_exception} {where}: {run.failure_reason}".strip()
        return preformatted(f"{summary}\n\n{run.stack_trace}" if run.stack_trace else summary)

    @admin.display(description="reason")
    def short_reason(self, obj: DeadLetter) -> str:
        return obj.reason if len(obj.reason) <= 100 else obj.reason[:99] + "…"

    @admin.display(description="reason")
    def reason_text(self, obj: DeadLetter) -> SafeString | str:
        return preformatted(obj.reason)
