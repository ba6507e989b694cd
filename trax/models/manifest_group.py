from django.db import models

from trax.models.choices import PRIORITY_MAX, PRIORITY_MIN


class ManifestGroup(models.Model):
    """Dispatch controls shared by a set of manifests: a concurrency cap, priority, a switch."""

    name = models.CharField(max_length=255, unique=True)
    max_active_jobs = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most pending + in-progress runs at once; empty = no cap."
    )
    priority = models.PositiveSmallIntegerField(default=0, help_text="0-31, higher goes first.")
    is_enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "trax_manifest_group"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(priority__gte=PRIORITY_MIN, priority__lte=PRIORITY_MAX),
                name="trax_manifest_group_priority_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name
