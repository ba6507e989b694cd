from django.db import models


class BulkOperation(models.Model):
    """An action an operator applied to every object a console filter matched, with its
    progress while it runs in the background."""

    class State(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    actor = models.CharField(max_length=255)
    page = models.CharField(max_length=32)
    action = models.CharField(max_length=32)
    query = models.TextField(blank=True, default="")
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING)
    total = models.PositiveIntegerField(null=True, blank=True)
    processed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "trax_bulk_operation"
        ordering = ["-id"]
        verbose_name = "bulk operation"

    def __str__(self) -> str:
        return f"{self.page}.{self.action} by {self.actor} ({self.state})"
