"""Step: queue retries of failed runs that have budget left, after a backoff; idempotent
through ``work_queue.retry_of`` (one retry entry per failed run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import F

from trax.manager.context import Cycle
from trax.manager.steps.failure_streaks import FailureStreaks
from trax.models import FailureKind, Metadata, TrainState, WorkQueue
from trax.store import NewWorkEntry, work_queue_insert_skipping_conflicts, write_isolating

NOT_RETRIED = (FailureKind.UNKNOWN_TRAIN,)


@dataclass(frozen=True)
class QueuedRetries:
    manifest_runs: int
    one_off_runs: int


def queue_retries(cycle: Cycle, failures: FailureStreaks) -> QueuedRetries:
    """Manifest runs: the latest failure of a streak still within ``max_retries`` is queued
    again with its own input at ``failed_at + backoff(failures)``. One-off runs: retried while
    their entry's ``max_retries`` lasts. UnknownTrain failures are never retried."""
    config = cycle.config
    origins = _origins(cycle, [s.latest_work_entry_id for s in failures.streaks])
    manifest_entries = []
    for streak in failures.streaks:
        if (
            streak.failures > streak.max_retries
            or streak.latest_retried
            or streak.latest_exception in NOT_RETRIED
        ):
            continue
        try:
            delay = config.retry_delay(streak.failures, streak.retry_delay_seconds)
            scheduled_at = streak.latest_ended_at + timedelta(seconds=delay)
        except Exception as error:  # a row no arithmetic can serve: skip it, keep the others
            _report(cycle, f"the retry of run {streak.latest_run_id}", error)
            continue
        manifest_entries.append(
            NewWorkEntry(
                train_name=streak.train_name,
                input=streak.latest_input,
                manifest_id=streak.manifest_id,
                retry_of_id=streak.latest_run_id,
                origin_id=origins.get(streak.latest_work_entry_id),
                priority=streak.priority,
                scheduled_at=scheduled_at,
                attempt=streak.failures + 1,
            )
        )
    one_off = (
        Metadata.objects.using(cycle.using)
        .filter(
            train_state=TrainState.FAILED,
            manifest__isnull=True,
            work_queue__max_retries__gt=0,
            attempt__lte=F("work_queue__max_retries"),
            retried_by__isnull=True,
        )
        # A one-off whose dispatch attempts ran out stays failed (DESIGN.md §4).
        .exclude(failure_exception__in=(*NOT_RETRIED, FailureKind.DISPATCH_FAILED))
        .values_list(
            "id",
            "input",
            "end_time",
            "attempt",
            "work_queue_id",
            "work_queue__origin_id",
            "work_queue__train_name",
            "work_queue__priority",
            "work_queue__max_retries",
        )
    )
    one_off_entries = []
    for (
        run_id,
        data,
        ended,
        attempt,
        entry_id,
        origin_id,
        train_name,
        priority,
        max_retries,
    ) in one_off:
        try:
            scheduled_at = (ended or cycle.now) + timedelta(seconds=config.retry_delay(attempt))
        except Exception as error:
            _report(cycle, f"the retry of run {run_id}", error)
            continue
        one_off_entries.append(
            NewWorkEntry(
                train_name=train_name,
                input=data,
                retry_of_id=run_id,
                origin_id=origin_id or entry_id,
                priority=priority,
                scheduled_at=scheduled_at,
                attempt=attempt + 1,
                max_retries=max_retries,
            )
        )
    return QueuedRetries(
        manifest_runs=_insert(cycle, manifest_entries),
        one_off_runs=_insert(cycle, one_off_entries),
    )


def _insert(cycle: Cycle, entries: list[NewWorkEntry]) -> int:
    """Insert retry entries; one the database refuses is reported and the others go in."""
    written = write_isolating(
        entries,
        lambda batch: work_queue_insert_skipping_conflicts(batch, using=cycle.using),
        using=cycle.using,
    )
    for entry, error in written.refused:
        _report(cycle, f"the retry of run {entry.retry_of_id}", error)
    return sum(written.results)


def _report(cycle: Cycle, what: str, error: Exception) -> None:
    cycle.faults.report(step="queue_retries", what=what, error=error, using=cycle.using)


def _origins(cycle: Cycle, entry_ids: list[int | None]) -> dict[int | None, int]:
    """The lineage origin of each work entry (the entry itself when it is the first)."""
    wanted = [i for i in entry_ids if i is not None]
    rows = WorkQueue.objects.using(cycle.using).filter(id__in=wanted).values_list("id", "origin_id")
    return {entry_id: origin_id or entry_id for entry_id, origin_id in rows}
