import uuid

from django.db import models

from trax.models.choices import PRIORITY_MAX, PRIORITY_MIN, WorkQueueStatus


class WorkQueue(models.Model):
    """Work between scheduling and dispatch: one entry becomes one run at a time."""

    external_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    origin = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lineage",
        db_index=False,
        help_text="The first entry of this lineage; retries and requeues point at it.",
    )
    retry_of = models.ForeignKey(
        "trax.Metadata",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retried_by",
        db_index=False,  # unique where set: trax_work_queue_one_retry_per_run
        help_text="The failed run this entry retries.",
    )
    train_name = models.CharField(max_length=255)
    input = models.JSONField(null=True, blank=True)
    manifest = models.ForeignKey(
        "trax.Manifest",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="work_entries",
        db_index=False,
    )
    priority = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=WorkQueueStatus.choices, default=WorkQueueStatus.QUEUED
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    dispatch_attempts = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=1)
    max_retries = models.PositiveIntegerField(default=0, help_text="For one-off runs.")
    parent_success_stamp = models.DateTimeField(null=True, blank=True)
    dead_letter = models.ForeignKey(
        "trax.DeadLetter",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="work_entries",
        db_index=False,
    )
    metadata = models.ForeignKey(
        "trax.Metadata",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        help_text="The latest run made from this entry.",
    )
    is_explicit_trigger = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    #: W3C ``traceparent`` of the code that queued the work (OpenTelemetry), '' when untraced.
    trace_parent = models.CharField(max_length=64, blank=True, default="", db_default="")

    class Meta:
        db_table = "trax_work_queue"
        ordering = ["-priority", "created_at"]
        verbose_name = "work queue entry"
        verbose_name_plural = "work queue"
        # Most foreign keys are null on most entries: index only the rows that have them.
        indexes = [
            models.Index(
                models.F("priority").desc(),
                "created_at",
                condition=models.Q(status=WorkQueueStatus.QUEUED),
                name="trax_work_queue_queued_idx",
            ),
            models.Index(
                fields=["origin"],
                condition=models.Q(origin__isnull=False),
                name="trax_work_queue_origin_idx",
            ),
            models.Index(
                fields=["manifest"],
                condition=models.Q(manifest__isnull=False),
                name="trax_work_queue_manifest_idx",
            ),
            models.Index(
                fields=["dead_letter"],
                condition=models.Q(dead_letter__isnull=False),
                name="trax_work_queue_letter_idx",
            ),
            models.Index(
                fields=["metadata"],
                condition=models.Q(metadata__isnull=False),
                name="trax_work_queue_metadata_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["manifest"],
                condition=models.Q(status=WorkQueueStatus.QUEUED),
                name="trax_work_queue_one_queued_per_manifest",
            ),
            models.UniqueConstraint(
                fields=["retry_of"],
                condition=models.Q(retry_of__isnull=False),
                name="trax_work_queue_one_retry_per_run",
            ),
            models.CheckConstraint(
                condition=models.Q(priority__gte=PRIORITY_MIN, priority__lte=PRIORITY_MAX),
                name="trax_work_queue_priority_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.train_name} ({self.status})"
