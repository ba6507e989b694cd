from django.db import models

from trax.models.choices import DeadLetterStatus


class DeadLetter(models.Model):
    """A manifest whose retries ran out: it waits for an operator to retry or acknowledge."""

    manifest = models.ForeignKey(
        "trax.Manifest", on_delete=models.CASCADE, related_name="dead_letters"
    )
    last_failed_run = models.ForeignKey(
        "trax.Metadata", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    retry_count = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=32,
        choices=DeadLetterStatus.choices,
        default=DeadLetterStatus.AWAITING_INTERVENTION,
    )
    dead_lettered_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=255, blank=True, default="")
    resolution_note = models.TextField(blank=True, default="")
    retry_run = models.ForeignKey(
        "trax.Metadata", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "trax_dead_letter"
        ordering = ["-dead_lettered_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["manifest"],
                condition=models.Q(status=DeadLetterStatus.AWAITING_INTERVENTION),
                name="trax_dead_letter_one_awaiting_per_manifest",
            ),
        ]

    def __str__(self) -> str:
        return f"dead letter {self.pk} of manifest {self.manifest_id} ({self.get_status_display()})"
