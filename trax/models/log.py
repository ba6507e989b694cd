from django.db import models


class Log(models.Model):
    """A log record emitted while a run was executing."""

    metadata = models.ForeignKey("trax.Metadata", on_delete=models.CASCADE, related_name="logs")
    level = models.CharField(max_length=16)
    logger = models.CharField(max_length=255)
    message = models.TextField()
    exception = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "trax_log"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"[{self.level}] {self.message[:80]}"
