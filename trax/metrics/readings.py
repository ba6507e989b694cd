"""Cluster-wide readings from the shared database, for the health checks and the cluster
gauges: each one statement on an index, none scanning ``trax_metadata``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import Coalesce, Greatest

from trax.models import (
    DeadLetter,
    DeadLetterStatus,
    Leader,
    Metadata,
    TrainState,
    Worker,
    WorkerKind,
    WorkQueue,
    WorkQueueStatus,
)


@dataclass(frozen=True)
class LiveProcesses:
    """Processes that beat within the staleness bound, by kind, and their run threads."""

    by_kind: dict[str, int]
    with_run_threads: int
    concurrency: int
    runs_in_flight: int

    @property
    def busy_ratio(self) -> float:
        """Runs in flight over run threads (0 with no threads)."""
        return self.runs_in_flight / self.concurrency if self.concurrency else 0.0


def live_processes(now: datetime, *, stale_after: float, using: str) -> LiveProcesses:
    """Who beat within ``stale_after`` seconds of ``now``; web processes have no run threads."""
    live = Worker.objects.using(using).filter(
        last_heartbeat_at__gt=now - timedelta(seconds=stale_after)
    )
    by_kind = {
        row["kind"]: row["n"] for row in live.values("kind").annotate(n=Count("id")).order_by()
    }
    runners = live.exclude(kind=WorkerKind.WEB).filter(concurrency__gt=0)
    totals = runners.aggregate(
        n=Count("id"), threads=Sum("concurrency"), in_flight=Sum("runs_in_flight")
    )
    return LiveProcesses(
        by_kind=by_kind,
        with_run_threads=totals["n"] or 0,
        concurrency=totals["threads"] or 0,
        runs_in_flight=totals["in_flight"] or 0,
    )


def leases_held(now: datetime, *, using: str) -> dict[str, str]:
    """Each unexpired leader lease's name and holder."""
    return dict(
        Leader.objects.using(using).filter(expires_at__gt=now).values_list("name", "holder")
    )


def oldest_due_age(now: datetime, *, using: str) -> float:
    """Seconds the longest-waiting due work entry has waited; 0 with none. Work scheduled for
    later is not late: its age counts from when it became due."""
    became_due = Greatest("created_at", Coalesce("scheduled_at", "created_at"))
    since = (
        WorkQueue.objects.using(using)
        .filter(
            Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now), status=WorkQueueStatus.QUEUED
        )
        .aggregate(at=Min(became_due))["at"]
    )
    return round(max((now - since).total_seconds(), 0.0), 1) if since else 0.0


def queue_depth_by_group(*, using: str) -> dict[str, int]:
    """Queued work entries by their manifest's group ('' for one-off work)."""
    rows = (
        WorkQueue.objects.using(using)
        .filter(status=WorkQueueStatus.QUEUED)
        .values("manifest__group__name")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["manifest__group__name"] or "": row["n"] for row in rows}


def runs_in_progress(*, using: str) -> int:
    """Runs in progress, the engine's own cycle runs left out."""
    return (
        Metadata.objects.using(using)
        .filter(train_state=TrainState.IN_PROGRESS)
        .exclude(name__startswith="trax.")
        .count()
    )


def dead_letters_awaiting(*, using: str) -> int:
    """Dead letters awaiting a person."""
    return (
        DeadLetter.objects.using(using)
        .filter(status=DeadLetterStatus.AWAITING_INTERVENTION)
        .count()
    )
