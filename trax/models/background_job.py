from django.db import models


class BackgroundJob(models.Model):
    """A dispatched run waiting for, or held by, a worker (the database job queue)."""

    metadata = models.OneToOneField(
        "trax.Metadata", on_delete=models.CASCADE, related_name="background_job"
    )
    priority = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # NULL, not "", means unclaimed: the free-jobs partial index is WHERE claimed_by IS NULL.
    claimed_by = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    claim_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=1)

    class Meta:
        db_table = "trax_background_job"
        ordering = ["-priority", "id"]
        indexes = [
            models.Index(
                models.F("priority").desc(),
                "id",
                condition=models.Q(claimed_by__isnull=True),
                name="trax_background_job_free_idx",
            ),
            models.Index(
                fields=["lease_expires_at"],
                condition=models.Q(claimed_by__isnull=False),
                name="trax_background_job_lease_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"job for run {self.metadata_id}"
