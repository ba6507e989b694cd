"""Step clean_up: finished runs past the retention go with their logs and children (none by
default); resolved dead letters past theirs are purged; what an operator still needs stays."""

from __future__ import annotations

from datetime import datetime

import pytest

from trax.manager.steps.cleanup import clean_up
from trax.models import (
    BackgroundJob,
    DeadLetter,
    DeadLetterStatus,
    Log,
    Manifest,
    Metadata,
    TrainState,
    WorkQueue,
    WorkQueueStatus,
)
from trax.store import dead_letter_acknowledge, retention_delete_finished

from .conftest import GREET, PERSON, cycle_at, finished, hours, pending, running

pytestmark = pytest.mark.django_db

DAY = 24 * 3600.0


def days(n: float):
    return hours(24 * n)


def log(run: Metadata, at: datetime) -> Log:
    return Log.objects.create(metadata=run, level="INFO", logger="t", message="m", created_at=at)


def exists(row) -> bool:
    return type(row).objects.filter(id=row.pk).exists()


def test_with_retention_off_every_run_is_kept(clock: datetime) -> None:
    old = finished(None, ended=clock - days(3650), state=TrainState.COMPLETED)

    result = clean_up(cycle_at(clock, metadata_retention_seconds=None))

    assert result.runs == 0
    assert exists(old)


def test_by_default_finished_runs_are_kept_thirty_days(clock: datetime) -> None:
    old = finished(None, ended=clock - days(31))
    recent = finished(None, ended=clock - days(29))

    assert clean_up(cycle_at(clock)).runs == 1
    assert not exists(old)
    assert exists(recent)


@pytest.mark.parametrize("state", [TrainState.COMPLETED, TrainState.FAILED, TrainState.CANCELLED])
def test_finished_runs_older_than_the_retention_go_with_their_logs_and_children(
    clock: datetime, state: str
) -> None:
    old = finished(None, ended=clock - days(8), state=state)
    old_log = log(old, clock - days(8))
    child = finished(None, ended=clock - days(8), parent=old)
    grandchild = finished(None, ended=clock - days(8), parent=child)
    child_log = log(child, clock - days(8))

    result = clean_up(cycle_at(clock, metadata_retention_seconds=7 * DAY))

    assert result.runs == 3  # every run deleted, the children that went with it included
    for row in (old, old_log, child, grandchild, child_log):
        assert not exists(row)


def test_recent_and_active_runs_are_kept(clock: datetime) -> None:
    recent = finished(None, ended=clock - days(6), state=TrainState.COMPLETED)
    recent_log = log(recent, clock - days(6))
    old_pending = pending(created=clock - days(30))
    old_running = running(started=clock - days(30))
    Metadata.objects.filter(id=old_running.pk).update(created_at=clock - days(30))
    # A run whose children ended long ago but that itself ended recently keeps them.
    parent = finished(None, ended=clock - days(1))
    old_child = finished(None, ended=clock - days(20), parent=parent)

    result = clean_up(cycle_at(clock, metadata_retention_seconds=7 * DAY))

    assert result.runs == 0
    for row in (recent, recent_log, old_pending, old_running, parent, old_child):
        assert exists(row)


def test_deletion_works_in_batches_and_stops_after_the_last_batch_of_a_call(
    clock: datetime,
) -> None:
    for _ in range(7):
        finished(None, ended=clock - days(8))

    first = retention_delete_finished(clock - days(7), batch_size=2, max_batches=3, using="default")
    second = retention_delete_finished(
        clock - days(7), batch_size=2, max_batches=3, using="default"
    )

    assert (first.runs, second.runs) == (6, 1)
    assert not Metadata.objects.exists()


def test_the_run_an_awaiting_dead_letter_points_at_is_kept(clock: datetime, failing) -> None:
    manifest = failing()
    letter_run = finished(manifest, ended=clock - days(30))
    other = finished(manifest, ended=clock - days(30))
    DeadLetter.objects.create(manifest=manifest, last_failed_run=letter_run, reason="exhausted")

    result = clean_up(cycle_at(clock, metadata_retention_seconds=7 * DAY))

    assert result.runs == 1
    assert exists(letter_run)
    assert not exists(other)


def test_the_run_of_a_resolved_dead_letter_is_not_protected(clock: datetime, failing) -> None:
    manifest = failing()
    run = finished(manifest, ended=clock - days(20))
    letter = DeadLetter.objects.create(manifest=manifest, last_failed_run=run, reason="exhausted")
    dead_letter_acknowledge([letter.pk], actor="ops", note="known outage", using="default")

    assert clean_up(cycle_at(clock, metadata_retention_seconds=7 * DAY)).runs == 1
    assert not exists(run)
    letter.refresh_from_db()
    assert letter.last_failed_run_id is None


def test_deleting_a_run_deletes_its_background_job_row(clock: datetime) -> None:
    run = finished(None, ended=clock - days(8))
    job = BackgroundJob.objects.create(metadata=run)

    clean_up(cycle_at(clock, metadata_retention_seconds=7 * DAY))

    assert not exists(job)


def test_the_work_entry_a_deleted_run_was_made_from_goes_with_it(clock: datetime) -> None:
    # The entry was created when it was queued, before its run ended.
    entry = entry_at(clock - days(9), status=WorkQueueStatus.DISPATCHED)
    run = finished(None, ended=clock - days(8), work_queue=entry)
    WorkQueue.objects.filter(id=entry.pk).update(metadata=run)
    still_queued = WorkQueue.objects.create(train_name=GREET, input=PERSON)

    assert clean_up(cycle_at(clock, metadata_retention_seconds=7 * DAY)).runs == 1

    assert exists(still_queued)
    assert not exists(entry)


def entry_at(created: datetime, **fields) -> WorkQueue:
    entry = WorkQueue.objects.create(train_name=GREET, input=PERSON, **fields)
    WorkQueue.objects.filter(id=entry.pk).update(created_at=created)
    entry.refresh_from_db()
    return entry


def lineage(clock: datetime, *ended_days_ago: float) -> tuple[list[WorkQueue], list[Metadata]]:
    """A one-off's lineage: its first entry and a retry entry per further run, each run
    failed except the last (completed), ending ``ended_days_ago`` in order."""
    entries: list[WorkQueue] = []
    runs: list[Metadata] = []
    for index, ago in enumerate(ended_days_ago):
        entry = entry_at(
            clock - days(ago + 1),
            status=WorkQueueStatus.DISPATCHED,
            origin=entries[0] if entries else None,
            retry_of=runs[-1] if runs else None,
        )
        last = index == len(ended_days_ago) - 1
        state = TrainState.COMPLETED if last else TrainState.FAILED
        run = finished(None, ended=clock - days(ago), state=state, work_queue=entry)
        log(run, clock - days(ago))
        entries.append(entry)
        runs.append(run)
    return entries, runs


def test_a_finished_lineage_goes_whole_with_its_runs_and_logs(clock: datetime) -> None:
    lineage(clock, 12, 11, 10)

    result = clean_up(cycle_at(clock, metadata_retention_seconds=7 * DAY))

    assert (result.work_entries, result.runs) == (3, 3)
    assert not WorkQueue.objects.exists()
    assert not Metadata.objects.exists()
    assert not Log.objects.exists()


def test_a_lineage_is_kept_whole_while_its_latest_run_is_recent(clock: datetime) -> None:
    entries, runs = lineage(clock, 12, 11, 1)

    result = clean_up(cycle_at(clock, metadata_retention_seconds=7 * DAY))

    assert (result.work_entries, result.runs) == (0, 0)
    assert all(exists(row) for row in (*entries, *runs))


def test_a_lineage_is_kept_whole_while_a_retry_is_still_queued(clock: datetime) -> None:
    entries, runs = lineage(clock, 12, 11)
    Metadata.objects.filter(id=runs[-1].pk).update(train_state=TrainState.FAILED)
    waiting = entry_at(clock - days(10), origin=entries[0], retry_of=runs[-1])

    result = clean_up(cycle_at(clock, metadata_retention_seconds=7 * DAY))

    assert (result.work_entries, result.runs) == (0, 0)
    assert all(exists(row) for row in (*entries, *runs, waiting))


def test_an_entry_cancelled_before_it_ran_ages_out(clock: datetime) -> None:
    cancelled = entry_at(clock - days(8), status=WorkQueueStatus.CANCELLED)
    recent = entry_at(clock - days(1), status=WorkQueueStatus.CANCELLED)

    result = clean_up(cycle_at(clock, metadata_retention_seconds=7 * DAY))

    assert result.work_entries == 1
    assert not exists(cancelled)
    assert exists(recent)


def test_failures_still_counting_toward_a_manifests_retries_are_kept(
    clock: datetime, failing
) -> None:
    streaking = failing("streak", max_retries=5)
    counting = finished(streaking, ended=clock - days(20))
    recovered = failing("recovered", max_retries=5)
    settled = finished(recovered, ended=clock - days(20))
    Manifest.objects.filter(id=recovered.pk).update(last_successful_run=clock - days(19))

    clean_up(cycle_at(clock, metadata_retention_seconds=7 * DAY))

    assert exists(counting), "the manifest's streak would forget a failure"
    assert not exists(settled)


# ── dead letters ───────────────────────────────────────────────────────────────────────────


def test_resolved_dead_letters_past_their_retention_are_purged_awaiting_ones_never(
    clock: datetime, failing
) -> None:
    def make(external_id: str, status: str, resolved: float | None, lettered: float):
        row = DeadLetter.objects.create(
            manifest=failing(external_id),
            reason="exhausted",
            status=status,
            resolved_at=None if resolved is None else clock - days(resolved),
        )
        DeadLetter.objects.filter(id=row.pk).update(dead_lettered_at=clock - days(lettered))
        return row

    acknowledged_old = make("a", DeadLetterStatus.ACKNOWLEDGED, 31, 40)
    retried_old = make("b", DeadLetterStatus.RETRIED, 31, 40)
    acknowledged_recent = make("c", DeadLetterStatus.ACKNOWLEDGED, 29, 40)
    awaiting_ancient = make("d", DeadLetterStatus.AWAITING_INTERVENTION, None, 400)

    result = clean_up(cycle_at(clock, dead_letter_retention_seconds=30 * DAY))

    assert result.dead_letters == 2
    assert not exists(acknowledged_old) and not exists(retried_old)
    assert exists(acknowledged_recent) and exists(awaiting_ancient)


def test_with_dead_letter_retention_off_resolved_letters_are_kept(clock: datetime, failing) -> None:
    row = DeadLetter.objects.create(
        manifest=failing(),
        reason="exhausted",
        status=DeadLetterStatus.ACKNOWLEDGED,
        resolved_at=clock - days(3650),
    )

    assert clean_up(cycle_at(clock, dead_letter_retention_seconds=None)).dead_letters == 0
    assert exists(row)
