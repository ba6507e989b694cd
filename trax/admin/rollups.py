"""Run rollups and their watermark: engine-owned (the manager's fold writes them, the clean-up
deletes them), read-only here. docs/rollups.md."""

from __future__ import annotations

from django.contrib import admin

from trax.admin.base import CappedCountMixin, EngineOwnedAdmin
from trax.models import RollupWatermark, RunRollup


@admin.register(RunRollup)
class RunRollupAdmin(CappedCountMixin, EngineOwnedAdmin):
    """Finished runs per minute or hour, train (blank: all but housekeeping) and outcome."""

    list_display = (
        "bucket",
        "bucket_seconds",
        "train",
        "outcome",
        "runs",
        "started",
        "duration_total",
        "duration_max",
        "wait_total",
        "wait_max",
    )
    list_filter = ("bucket_seconds", "outcome")
    search_fields = ("train",)
    ordering = ("-bucket_seconds", "-bucket", "train", "outcome")
    fields = list_display
    readonly_fields = fields


@admin.register(RollupWatermark)
class RollupWatermarkAdmin(EngineOwnedAdmin):
    """Where the fold stands: the last run folded, and up to when runs are settled."""

    list_display = ("folded_end_time", "folded_run_id", "settled_before", "checkpoint_at")
    fields = (*list_display, "checkpoint_transactions")
    readonly_fields = fields
