"""What the console's overview shows, read without scanning ``trax_metadata``: active counts
from partial indexes, finished counts and charts from the rollups (``docs/rollups.md``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, Min, OuterRef

from trax.models import (
    DeadLetter,
    DeadLetterStatus,
    Leader,
    Manifest,
    Metadata,
    TrainState,
    Worker,
    WorkQueue,
    WorkQueueStatus,
)
from trax.store import RollupSeries, RunStats, rollup_by_train, rollup_series

#: Rows in each "top" table.
TOP = 5


@dataclass(frozen=True)
class TrainLine:
    """One train in a top table."""

    name: str
    stats: RunStats

    @property
    def failure_rate(self) -> float:
        return self.stats.failed / self.stats.finished if self.stats.finished else 0.0


@dataclass(frozen=True)
class Process:
    """A worker or scheduler process as its heartbeat last told."""

    row: Worker
    heartbeat_age: float
    stale: bool
    leads: bool


@dataclass(frozen=True)
class Overview:
    """Everything on the overview page at ``now``."""

    now: datetime
    pending: int
    running: int
    queued: int
    oldest_queued_age: float | None
    dead_letters_awaiting: int
    last_hour: RunStats
    last_day: RunStats
    per_minute: RollupSeries
    per_hour: RollupSeries
    failing_most: tuple[TrainLine, ...]
    slowest: tuple[TrainLine, ...]
    blocked: tuple[Manifest, ...]
    processes: tuple[Process, ...]
    recent: tuple[Metadata, ...]

    @property
    def success_rate(self) -> float | None:
        """Completed of finished in the last day (None before any finished)."""
        day = self.last_day
        return day.completed / day.finished if day.finished else None


def build_overview(now: datetime, *, using: str, stale_after: float) -> Overview:
    """Read the overview at ``now``; a process silent for ``stale_after`` seconds is stale."""
    active = Metadata.objects.using(using).exclude(name__startswith="trax.")
    queued = WorkQueue.objects.using(using).filter(status=WorkQueueStatus.QUEUED)
    oldest = queued.aggregate(at=Min("created_at"))["at"]
    hour = rollup_series(now - timedelta(hours=1), now, bucket="minute", using=using)
    hours = rollup_series(now - timedelta(days=1), now, bucket="hour", using=using)
    day = rollup_by_train(now - timedelta(days=1), now, bucket="hour", using=using)
    lines = [TrainLine(name, stats) for name, stats in day.items()]
    return Overview(
        now=now,
        pending=active.filter(train_state=TrainState.PENDING).count(),
        running=active.filter(train_state=TrainState.IN_PROGRESS).count(),
        queued=queued.count(),
        oldest_queued_age=(now - oldest).total_seconds() if oldest else None,
        dead_letters_awaiting=DeadLetter.objects.using(using)
        .filter(status=DeadLetterStatus.AWAITING_INTERVENTION)
        .count(),
        last_hour=_total(point.stats for point in hour.points),
        last_day=_total(line.stats for line in lines),
        per_minute=hour,
        per_hour=hours,
        failing_most=tuple(
            sorted(
                (line for line in lines if line.stats.failed),
                key=lambda line: (-line.stats.failed, line.name),
            )[:TOP]
        ),
        slowest=tuple(
            sorted(
                (line for line in lines if line.stats.mean_duration is not None),
                key=lambda line: (-_slowness(line.stats), line.name),
            )[:TOP]
        ),
        blocked=tuple(_blocked(using)),
        processes=tuple(_processes(now, using=using, stale_after=stale_after)),
        recent=tuple(
            Metadata.objects.using(using).only(
                "id", "name", "train_state", "created_at", "start_time", "end_time"
            )[:20]
        ),
    )


def _slowness(stats: RunStats) -> float:
    """p95 duration, else the mean (rollups folded before the histogram existed)."""
    return stats.p95_duration or stats.mean_duration or 0.0


def _total(stats: Any) -> RunStats:
    completed = failed = cancelled = started = 0
    duration = wait = 0.0
    longest: float | None = None
    for item in stats:
        completed += item.completed
        failed += item.failed
        cancelled += item.cancelled
        started += item.started
        duration += item.duration_total
        wait += item.wait_total
        if item.duration_max is not None:
            longest = max(longest or 0.0, item.duration_max)
    return RunStats(
        completed=completed,
        failed=failed,
        cancelled=cancelled,
        started=started,
        duration_total=duration,
        duration_max=longest,
        wait_total=wait,
    )


def _blocked(using: str) -> list[Manifest]:
    awaiting = DeadLetter.objects.using(using).filter(
        manifest_id=OuterRef("pk"), status=DeadLetterStatus.AWAITING_INTERVENTION
    )
    return list(
        Manifest.objects.using(using).filter(Exists(awaiting)).order_by("external_id")[:TOP]
    )


def _processes(now: datetime, *, using: str, stale_after: float) -> list[Process]:
    leaders = {row.holder for row in Leader.objects.using(using).filter(expires_at__gt=now)}
    found = []
    for row in Worker.objects.using(using).order_by("host", "worker_id"):
        age = max((now - row.last_heartbeat_at).total_seconds(), 0.0)
        found.append(
            Process(
                row=row, heartbeat_age=age, stale=age > stale_after, leads=row.worker_id in leaders
            )
        )
    return found
