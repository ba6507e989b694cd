from django.db import models


class Audit(models.Model):
    """Who did what to which object, from the admin, the dashboard or the API."""

    actor = models.CharField(max_length=255)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=255)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "trax_audit"
        ordering = ["-at"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit trail"
        indexes = [models.Index(fields=["at"], name="trax_audit_at_idx")]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.target}"
