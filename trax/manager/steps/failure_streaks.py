"""Step: count each manifest's consecutive failures, for the retry and dead-letter steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, F, Max, OuterRef, Q

from trax.manager.context import Cycle
from trax.models import (
    DeadLetter,
    DeadLetterStatus,
    FailureKind,
    Metadata,
    TrainState,
    WorkQueue,
)


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
    """Failed manifest runs that count toward retries and dead letters.

    A failure counts when it ended after the manifest's last success and after its last
    dead-letter resolution. Cancelled runs are not failures. A ``DispatchFailed`` run the
    dispatcher already requeued (it has a retry entry) does not count: only the final failed
    dispatch does. Manifests awaiting an operator are left out.
    """
    blocking_letter = DeadLetter.objects.using(using).filter(
        Q(status=DeadLetterStatus.AWAITING_INTERVENTION) | Q(resolved_at__gte=OuterRef("end_time")),
        manifest_id=OuterRef("manifest_id"),
    )
    # The dispatcher's own requeue carries dispatch_attempts > 0; the retry step's does not.
    requeued = WorkQueue.objects.using(using).filter(
        retry_of_id=OuterRef("pk"), dispatch_attempts__gt=0
    )
    return (
        Metadata.objects.using(using)
        .filter(train_state=TrainState.FAILED, manifest__isnull=False)
        .filter(
            Q(manifest__last_successful_run__isnull=True)
            | Q(end_time__gt=F("manifest__last_successful_run"))
        )
        .exclude(Exists(blocking_letter))
        .exclude(Q(failure_exception=FailureKind.DISPATCH_FAILED) & Exists(requeued))
    )


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
