"""The audit trail and the console's bulk operations: append-only, read-only here."""

from __future__ import annotations

from django.contrib import admin
from django.utils.safestring import SafeString

from trax.admin.base import EngineOwnedAdmin, pretty_json
from trax.models import Audit, BulkOperation


@admin.register(Audit)
class AuditAdmin(EngineOwnedAdmin):
    """Who did what to which object, from the admin, the dashboard or the API."""

    list_display = ("at", "actor", "action", "target")
    list_filter = ("action", ("at", admin.DateFieldListFilter))
    search_fields = ("actor", "target")
    date_hierarchy = "at"
    ordering = ("-at", "-id")
    fields = ("at", "actor", "action", "target", "detail_json")
    readonly_fields = fields

    @admin.display(description="detail")
    def detail_json(self, obj: Audit) -> SafeString:
        return pretty_json(obj.detail)


@admin.register(BulkOperation)
class BulkOperationAdmin(EngineOwnedAdmin):
    """Actions taken on all matching objects from the console, with their progress."""

    list_display = ("id", "started_at", "actor", "page", "action", "state", "processed", "changed")
    list_filter = ("state", "page", "action")
    search_fields = ("actor", "query")
    ordering = ("-id",)
    fields = (
        "started_at",
        "finished_at",
        "actor",
        "page",
        "action",
        "query",
        "params",
        "state",
        "total",
        "processed",
        "changed",
        "error",
    )
    readonly_fields = fields
