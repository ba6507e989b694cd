from django.db import models

from trax.models.choices import PRIORITY_MAX, PRIORITY_MIN, MisfirePolicy, ScheduleType


class Manifest(models.Model):
    """A schedule: which train runs, with what input, and when."""

    external_id = models.CharField(max_length=255, unique=True)
    train_name = models.CharField(max_length=255)
    input = models.JSONField(null=True, blank=True)
    schedule_type = models.CharField(
        max_length=32, choices=ScheduleType.choices, default=ScheduleType.MANUAL
    )
    interval_seconds = models.PositiveIntegerField(null=True, blank=True)
    cron_expression = models.CharField(
        max_length=255, blank=True, default="", help_text="Normalised, seconds first."
    )
    timezone = models.CharField(max_length=64, default="UTC")
    run_at = models.DateTimeField(null=True, blank=True, help_text="For 'once' schedules.")
    depends_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="dependents"
    )
    group = models.ForeignKey(
        "trax.ManifestGroup", on_delete=models.PROTECT, related_name="manifests"
    )
    priority = models.PositiveSmallIntegerField(default=0, help_text="0-31, higher goes first.")
    is_enabled = models.BooleanField(default=True)
    is_enabled_overridden = models.BooleanField(
        default=False, help_text="Set by a runtime change; start-up sync then leaves is_enabled."
    )
    max_retries = models.PositiveIntegerField(default=3)
    retry_delay_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty = the global default."
    )
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    misfire_policy = models.CharField(
        max_length=32, choices=MisfirePolicy.choices, default=MisfirePolicy.FIRE_ONCE_NOW
    )
    misfire_threshold_seconds = models.PositiveIntegerField(null=True, blank=True)
    variance_seconds = models.PositiveIntegerField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_successful_run = models.DateTimeField(null=True, blank=True)
    failure_watermark = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Failures that ended by then are settled (a dead letter took them, or an "
        "operator resolved it): they count toward no retry or dead letter.",
    )
    last_parent_success_seen = models.DateTimeField(null=True, blank=True)
    declared_in_code = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "trax_manifest"
        ordering = ["external_id"]
        indexes = [
            models.Index(
                fields=["next_run_at"],
                condition=models.Q(is_enabled=True),
                name="trax_manifest_due_idx",
            ),
            models.Index(
                fields=["depends_on"],
                condition=models.Q(schedule_type="dependent"),
                name="trax_manifest_dependents_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(priority__gte=PRIORITY_MIN, priority__lte=PRIORITY_MAX),
                name="trax_manifest_priority_range",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id
