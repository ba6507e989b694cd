from django.db import models


class Leader(models.Model):
    """A leader lease: who runs a cluster-wide duty, until when (database time)."""

    name = models.CharField(max_length=64, unique=True)
    holder = models.CharField(max_length=255)
    token = models.UUIDField()
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "trax_leader"

    def __str__(self) -> str:
        return f"{self.name}: {self.holder}"
