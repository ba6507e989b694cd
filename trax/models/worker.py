from django.db import models

from trax.models.choices import WorkerKind


class Worker(models.Model):
    """A live trax process (scheduler, worker or web), kept fresh by its heartbeat."""

    worker_id = models.CharField(max_length=255, unique=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=WorkerKind.choices)
    concurrency = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    last_heartbeat_at = models.DateTimeField()
    runs_in_flight = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "trax_worker"
        ordering = ["worker_id"]

    def __str__(self) -> str:
        return self.worker_id
