"""Live trax processes and leader leases: engine-owned, read-only here."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.utils import timezone

from trax.admin.base import EngineOwnedAdmin
from trax.conf import get_settings
from trax.models import Leader, Worker


@admin.register(Worker)
class WorkerAdmin(EngineOwnedAdmin):
    """Scheduler, worker and web processes, kept fresh by their heartbeat."""

    list_display = (
        "worker_id",
        "kind",
        "host",
        "pid",
        "concurrency",
        "runs_in_flight",
        "started_at",
        "last_heartbeat_at",
        "is_alive",
    )
    list_filter = ("kind", "host")
    search_fields = ("worker_id", "host")
    ordering = ("worker_id",)
    fieldsets = (
        ("Identity", {"fields": ("worker_id", "kind", "host", "pid")}),
        ("Load", {"fields": ("concurrency", "runs_in_flight")}),
        ("Timing", {"fields": ("started_at", "last_heartbeat_at", "is_alive")}),
    )
    readonly_fields = (
        "worker_id",
        "kind",
        "host",
        "pid",
        "concurrency",
        "runs_in_flight",
        "started_at",
        "last_heartbeat_at",
        "is_alive",
    )

    @admin.display(description="alive", boolean=True)
    def is_alive(self, obj: Worker) -> bool:
        """Heartbeat within one lease (as this web process's clock sees it)."""
        lease = timedelta(seconds=get_settings().LEASE_SECONDS)
        return obj.last_heartbeat_at > timezone.now() - lease


@admin.register(Leader)
class LeaderAdmin(EngineOwnedAdmin):
    """Leader leases: which process holds a cluster-wide duty, until when."""

    list_display = ("name", "holder", "expires_at", "is_held")
    search_fields = ("name", "holder")
    ordering = ("name",)
    fields = ("name", "holder", "token", "expires_at", "is_held")
    readonly_fields = fields

    @admin.display(description="held now", boolean=True)
    def is_held(self, obj: Leader) -> bool:
        """Lease not yet expired (as this web process's clock sees it)."""
        return obj.expires_at > timezone.now()
