import uuid

from django.db import models
from django.db.models.functions import Now

from trax.models.choices import ACTIVE_STATES, CancelReason, TrainState


class Metadata(models.Model):
    """One execution of a train: its state, timing, input, output and failure."""

    name = models.CharField(max_length=255, help_text="Canonical train name.")
    external_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    executor = models.CharField(max_length=255, blank=True, default="")
    train_state = models.CharField(
        max_length=16, choices=TrainState.choices, default=TrainState.PENDING
    )
    created_at = models.DateTimeField(db_default=Now())
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    failure_junction = models.CharField(max_length=255, blank=True, default="")
    failure_exception = models.CharField(max_length=255, blank=True, default="")
    failure_reason = models.TextField(blank=True, default="")
    stack_trace = models.TextField(blank=True, default="")
    # Foreign keys are indexed by the partial indexes below (most runs have no parent, one-off
    # runs no manifest): a run row carries few index entries, so writing it stays cheap.
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        db_index=False,
    )
    manifest = models.ForeignKey(
        "trax.Manifest",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
        db_index=False,
    )
    work_queue = models.ForeignKey(
        "trax.WorkQueue",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
        db_index=False,
    )
    attempt = models.PositiveIntegerField(default=1)
    scheduled_time = models.DateTimeField(null=True, blank=True)
    #: W3C ``traceparent`` of the code that queued the run (OpenTelemetry), '' when untraced.
    trace_parent = models.CharField(max_length=64, blank=True, default="", db_default="")
    cancellation_requested = models.BooleanField(default=False)
    cancel_reason = models.CharField(
        max_length=16, choices=CancelReason.choices, blank=True, default=""
    )
    currently_running_junction = models.CharField(max_length=255, blank=True, default="")
    junction_started_at = models.DateTimeField(null=True, blank=True)
    # Written once, with the outcome, by the executor that ran the junctions; see
    # docs/data-model.md for the format. Null when no executor finished the run.
    junction_timings = models.JSONField(
        null=True,
        blank=True,
        help_text="The junctions reached, in order: name, started_at and ended_at (seconds "
        "since the run began), outcome (completed, failed, cancelled).",
    )
    host_name = models.CharField(max_length=255, blank=True, default="")
    host_environment = models.CharField(max_length=64, blank=True, default="")
    host_instance_id = models.CharField(max_length=255, blank=True, default="")
    host_labels = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "trax_metadata"
        ordering = ["-id"]
        verbose_name = "run"
        verbose_name_plural = "runs"
        # The console's permissions, one per kind of act, so a read-only operator is a staff
        # user with view_console alone (docs/dashboard.md).
        permissions = [
            ("view_console", "Can view the trax console"),
            ("cancel_run", "Can cancel runs from the console"),
            ("resolve_dead_letter", "Can retry and acknowledge dead letters from the console"),
            (
                "manage_schedules",
                "Can trigger, enable, disable and edit schedules",
            ),
            ("change_runtime_settings", "Can change runtime settings from the console"),
        ]
        # Every run passes through three writes (pending, in progress, finished), none of them
        # HOT: each index a row version enters costs on every one. Hence partial indexes.
        indexes = [
            models.Index(
                fields=["train_state", "created_at"],
                condition=models.Q(train_state__in=ACTIVE_STATES),
                name="trax_metadata_active_idx",
            ),
            models.Index(
                fields=["end_time"],
                condition=models.Q(train_state=TrainState.FAILED),
                name="trax_metadata_failed_idx",
            ),
            # The failure-streak read: a manifest's failures after its watermark, by range.
            models.Index(
                fields=["manifest", "end_time"],
                condition=models.Q(train_state=TrainState.FAILED, manifest__isnull=False),
                name="trax_metadata_streak_idx",
            ),
            # With the id last, a manifest's newest run of each state is one probe (the
            # console's schedules list reads the newest of all five).
            models.Index(
                fields=["manifest", "train_state", "id"],
                condition=models.Q(manifest__isnull=False),
                name="trax_metadata_manifest_idx",
            ),
            models.Index(
                fields=["parent"],
                condition=models.Q(parent__isnull=False),
                name="trax_metadata_parent_idx",
            ),
            models.Index(
                fields=["work_queue"],
                condition=models.Q(work_queue__isnull=False),
                name="trax_metadata_entry_idx",
            ),
            models.Index(fields=["end_time"], name="trax_metadata_end_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk} ({self.train_state})"
