from django.db import models


class RuntimeSettings(models.Model):
    """The one row of settings staff may change at runtime; empty columns defer to settings.TRAX."""

    manager_polling_interval_seconds = models.FloatField(null=True, blank=True)
    dispatcher_polling_interval_seconds = models.FloatField(null=True, blank=True)
    max_active_jobs = models.PositiveIntegerField(null=True, blank=True)
    max_concurrent_dispatch = models.PositiveIntegerField(null=True, blank=True)
    default_max_retries = models.PositiveIntegerField(null=True, blank=True)
    retry_delay_seconds = models.FloatField(null=True, blank=True)
    retry_backoff_multiplier = models.FloatField(null=True, blank=True)
    max_retry_delay_seconds = models.FloatField(null=True, blank=True)
    default_job_timeout_seconds = models.FloatField(null=True, blank=True)
    stale_pending_timeout_seconds = models.FloatField(null=True, blank=True)
    dead_letter_retention_seconds = models.FloatField(null=True, blank=True)
    metadata_retention_seconds = models.FloatField(null=True, blank=True)
    junction_progress = models.BooleanField(null=True, blank=True)
    log_capture = models.BooleanField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        db_table = "trax_runtime_settings"
        verbose_name = "runtime settings"
        verbose_name_plural = "runtime settings"

    def __str__(self) -> str:
        return "Runtime settings"
