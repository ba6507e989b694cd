"""Step: count each manifest's consecutive failures, for the retry and dead-letter steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef

from trax.manager.context import Cycle
from trax.models import Metadata, WorkQueue
from trax.store import metadata_counted_failures


@dataclass(frozen=True)
class Streak:
    """A manifest's current run of failures and its latest failed run."""

    manifest_id: int
    failures: int
    latest_run_id: int
    latest_ended_at: datetime
    latest_exception: str
    latest_input: Any
    latest_work_entry_id: int | None
    latest_retried: bool
    max_retries: int
    retry_delay_seconds: int | None
    priority: int
    train_name: str


@dataclass(frozen=True)
class FailureStreaks:
    streaks: tuple[Streak, ...]


def counted_failures(using: str) -> Any:
    """Failed manifest runs that count toward retries and dead letters (the store's read)."""
    return metadata_counted_failures(using)


def load_failure_streaks(cycle: Cycle) -> FailureStreaks:
    """Each manifest with unresolved consecutive failures, with its latest failed run."""
    counts = {
        row["manifest_id"]: (row["failures"], row["latest"])
        for row in counted_failures(cycle.using)
        .order_by()
        .values("manifest_id")
        .annotate(failures=Count("id"), latest=Max("id"))
    }
    if not counts:
        return FailureStreaks(())
    latest = (
        Metadata.objects.using(cycle.using)
        .filter(id__in=[latest for _, latest in counts.values()])
        .annotate(
            retried=Exists(WorkQueue.objects.using(cycle.using).filter(retry_of_id=OuterRef("pk")))
        )
        .values(
            "id",
            "manifest_id",
            "end_time",
            "failure_exception",
            "input",
            "work_queue_id",
            "retried",
            "manifest__max_retries",
            "manifest__retry_delay_seconds",
            "manifest__priority",
            "manifest__train_name",
        )
    )
    streaks = [
        Streak(
            manifest_id=row["manifest_id"],
            failures=counts[row["manifest_id"]][0],
            latest_run_id=row["id"],
            latest_ended_at=row["end_time"] or cycle.now,
            latest_exception=row["failure_exception"],
            latest_input=row["input"],
            latest_work_entry_id=row["work_queue_id"],
            latest_retried=row["retried"],
            max_retries=row["manifest__max_retries"],
            retry_delay_seconds=row["manifest__retry_delay_seconds"],
            priority=row["manifest__priority"],
            train_name=row["manifest__train_name"],
        )
        for row in latest
    ]
    return FailureStreaks(tuple(sorted(streaks, key=lambda s: s.manifest_id)))
