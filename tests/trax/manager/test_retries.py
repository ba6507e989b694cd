"""Steps load_failure_streaks and queue_retries (DESIGN.md §4, the retry table): failed runs
are queued again with their own input after a doubling backoff, once per failed run."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import pytest

import trax
from trax.manager.context import Cycle
from trax.manager.cycle import run_manager_cycle
from trax.manager.steps.failure_streaks import load_failure_streaks
from trax.manager.steps.retries import QueuedRetries, queue_retries
from trax.models import Manifest, Metadata, TrainState, WorkQueue, WorkQueueStatus

from .conftest import (
    FAILS,
    PERSON,
    cycle_at,
    dispatch,
    finished,
    hours,
    minutes,
    queued,
    reload,
)

pytestmark = pytest.mark.django_db

ONE_MINUTE = timedelta(minutes=1)


def retry_step(cycle: Cycle) -> QueuedRetries:
    """The two steps as the cycle chains them."""
    return queue_retries(cycle, load_failure_streaks(cycle))


def failures(
    manifest: Manifest, count: int, *, first: datetime, every: timedelta = ONE_MINUTE
) -> list[Metadata]:
    return [finished(manifest, ended=first + i * every) for i in range(count)]


# ── manifest runs: backoff ─────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("failed", "delay"),
    [
        (1, minutes(5)),
        (2, minutes(10)),
        (3, minutes(20)),
        (4, minutes(40)),
        (5, hours(1)),  # 80 minutes, capped
        (6, hours(1)),
    ],
)
def test_the_backoff_doubles_from_five_minutes_capped_at_an_hour(
    clock: datetime, failing, failed: int, delay: timedelta
) -> None:
    manifest = failing(max_retries=10)
    runs = failures(manifest, failed, first=clock - hours(3))
    latest = runs[-1]

    result = retry_step(cycle_at(clock))

    assert (result.manifest_runs, result.one_off_runs) == (1, 0)
    [entry] = queued(manifest)
    assert entry.retry_of_id == latest.pk
    assert entry.scheduled_at == latest.end_time + delay
    assert entry.attempt == failed + 1
    assert entry.train_name == FAILS
    assert entry.priority == manifest.priority


@pytest.mark.parametrize(
    ("failed", "delay"),
    [
        (1, timedelta(seconds=45)),
        (2, timedelta(seconds=90)),
        (3, timedelta(seconds=180)),
        (9, hours(1)),
    ],
)
def test_a_manifest_retry_delay_replaces_the_base_of_the_backoff(
    clock: datetime, failing, failed: int, delay: timedelta
) -> None:
    manifest = failing(max_retries=10, retry_delay=45)
    latest = failures(manifest, failed, first=clock - hours(3))[-1]

    retry_step(cycle_at(clock))

    [entry] = queued(manifest)
    assert entry.scheduled_at == latest.end_time + delay


def test_a_retry_carries_the_failed_runs_own_input_and_priority(clock: datetime, failing) -> None:
    manifest = failing(priority=7)
    run = finished(manifest, ended=clock - minutes(1), input={"name": "from the run"})

    retry_step(cycle_at(clock))

    [entry] = queued(manifest)
    assert entry.input == {"name": "from the run"}
    assert entry.priority == 7
    assert entry.retry_of_id == run.pk


def test_a_retry_of_a_run_made_from_a_work_entry_links_to_its_lineage(
    clock: datetime, failing
) -> None:
    manifest = failing()
    occurrence = WorkQueue.objects.create(
        train_name=FAILS, input=PERSON, manifest=manifest, status=WorkQueueStatus.DISPATCHED
    )
    finished(manifest, ended=clock - minutes(1), work_queue=occurrence)

    retry_step(cycle_at(clock))

    [entry] = queued(manifest)
    assert entry.origin_id == occurrence.pk


# ── idempotency ────────────────────────────────────────────────────────────────────────────


def test_queueing_retries_twice_adds_nothing_the_second_time(clock: datetime, failing) -> None:
    manifest = failing()
    run = finished(manifest, ended=clock - minutes(1))

    first = retry_step(cycle_at(clock))
    second = retry_step(cycle_at(clock + minutes(1)))

    assert (first.manifest_runs, second.manifest_runs) == (1, 0)
    assert WorkQueue.objects.filter(retry_of=run).count() == 1


def test_a_retried_run_is_not_retried_again_once_its_entry_was_dispatched(
    clock: datetime, failing
) -> None:
    manifest = failing()
    run = finished(manifest, ended=clock - minutes(1))
    retry_step(cycle_at(clock))
    dispatch(queued(manifest)[0])  # the slot is free again; the run still has its retry

    assert retry_step(cycle_at(clock + minutes(10))).manifest_runs == 0
    assert WorkQueue.objects.filter(retry_of=run).count() == 1


def test_whole_cycles_queue_one_retry_entry_per_failed_run(clock: datetime, failing) -> None:
    manifest = failing()
    Manifest.objects.filter(id=manifest.pk).update(next_run_at=clock + hours(1))
    run = finished(manifest, ended=clock - minutes(1))

    reports = [run_manager_cycle(clock + minutes(i)) for i in range(3)]

    assert [r.retries_queued for r in reports] == [1, 0, 0]
    assert WorkQueue.objects.filter(retry_of=run).count() == 1
    assert WorkQueue.objects.filter(manifest=manifest).count() == 1


# ── what is counted ────────────────────────────────────────────────────────────────────────


def test_a_cancelled_run_is_never_retried(clock: datetime, failing) -> None:
    manifest = failing()
    finished(manifest, ended=clock - minutes(1), state=TrainState.CANCELLED)

    assert load_failure_streaks(cycle_at(clock)).streaks == ()
    assert retry_step(cycle_at(clock)).manifest_runs == 0
    assert queued(manifest) == []


def test_a_cancel_between_two_failures_neither_resets_nor_extends_the_streak(
    clock: datetime, failing
) -> None:
    manifest = failing(max_retries=10)
    finished(manifest, ended=clock - minutes(30))
    finished(manifest, ended=clock - minutes(20), state=TrainState.CANCELLED)
    latest = finished(manifest, ended=clock - minutes(10))

    [streak] = load_failure_streaks(cycle_at(clock)).streaks
    retry_step(cycle_at(clock))

    assert streak.failures == 2
    assert streak.latest_run_id == latest.pk
    [entry] = queued(manifest)
    assert entry.attempt == 3
    assert entry.scheduled_at == latest.end_time + minutes(10)  # the 2nd failure's backoff


def test_a_success_resets_the_streak(clock: datetime, failing) -> None:
    manifest = failing(max_retries=10)
    failures(manifest, 3, first=clock - hours(2))
    Manifest.objects.filter(id=manifest.pk).update(last_successful_run=clock - hours(1))
    latest = finished(manifest, ended=clock - minutes(10))

    [streak] = load_failure_streaks(cycle_at(clock)).streaks
    retry_step(cycle_at(clock))

    assert streak.failures == 1
    [entry] = queued(manifest)
    assert entry.attempt == 2
    assert entry.scheduled_at == latest.end_time + minutes(5)


def test_a_manifest_whose_last_run_succeeded_has_no_streak(clock: datetime, failing) -> None:
    manifest = failing()
    failures(manifest, 2, first=clock - hours(2))
    Manifest.objects.filter(id=manifest.pk).update(last_successful_run=clock - hours(1))

    assert load_failure_streaks(cycle_at(clock)).streaks == ()
    assert retry_step(cycle_at(clock)).manifest_runs == 0


def test_an_unknown_train_failure_is_never_retried(clock: datetime, failing) -> None:
    manifest = failing(max_retries=10)
    finished(manifest, ended=clock - minutes(1), exception="UnknownTrain")

    result = retry_step(cycle_at(clock))

    assert result.manifest_runs == 0
    assert queued(manifest) == []


@pytest.mark.parametrize("budget", [0, 1, 3])
def test_a_manifest_is_retried_only_while_its_failures_are_within_max_retries(
    clock: datetime, failing, budget: int
) -> None:
    manifest = failing(max_retries=budget)
    for count in range(1, budget + 3):
        finished(manifest, ended=clock - hours(5) + minutes(count))
        expected = 1 if count <= budget else 0
        WorkQueue.objects.filter(manifest=manifest).update(status=WorkQueueStatus.DISPATCHED)

        assert retry_step(cycle_at(clock)).manifest_runs == expected, count


# ── a manifest with something queued ───────────────────────────────────────────────────────


def test_a_manifest_with_a_queued_entry_gets_no_retry_until_the_slot_frees(
    clock: datetime, failing
) -> None:
    manifest = failing()
    run = finished(manifest, ended=clock - minutes(1))
    trax.scheduler.trigger(manifest.external_id)
    [trigger] = queued(manifest)

    blocked = retry_step(cycle_at(clock))

    assert blocked.manifest_runs == 0
    assert queued(manifest) == [trigger]
    assert not WorkQueue.objects.filter(retry_of=run).exists()

    dispatch(trigger)
    later = retry_step(cycle_at(clock + minutes(1)))

    assert later.manifest_runs == 1
    [entry] = queued(manifest)
    assert entry.retry_of_id == run.pk


# ── one-off runs ───────────────────────────────────────────────────────────────────────────


def one_off(max_retries: int) -> WorkQueue:
    external_id = trax.enqueue(FAILS, PERSON, max_retries=max_retries, priority=3)
    assert isinstance(external_id, UUID)
    return dispatch(WorkQueue.objects.get(external_id=external_id))


def test_a_failed_one_off_run_is_retried_with_its_lineage_and_next_attempt(clock: datetime) -> None:
    entry = one_off(max_retries=2)
    run = finished(None, ended=clock - minutes(1), work_queue=entry, attempt=1)

    result = retry_step(cycle_at(clock))

    assert (result.manifest_runs, result.one_off_runs) == (0, 1)
    retry = WorkQueue.objects.get(retry_of=run)
    assert retry.status == WorkQueueStatus.QUEUED
    assert retry.manifest_id is None
    assert retry.origin_id == entry.pk
    assert retry.attempt == 2
    assert retry.max_retries == 2
    assert retry.train_name == FAILS
    assert retry.input == PERSON
    assert retry.priority == 3
    assert retry.scheduled_at == run.end_time + minutes(5)


def test_a_one_off_lineage_is_retried_while_attempt_is_within_max_retries(clock: datetime) -> None:
    entry = one_off(max_retries=2)
    origin = entry
    attempts = []
    for attempt in range(1, 5):
        run = finished(
            None, ended=clock - hours(1) + minutes(attempt), work_queue=entry, attempt=attempt
        )
        result = retry_step(cycle_at(clock))
        attempts.append(result.one_off_runs)
        retry = WorkQueue.objects.filter(retry_of=run).first()
        if retry is None:
            break
        assert retry.origin_id == origin.pk  # every retry points at the first entry
        assert retry.attempt == attempt + 1
        assert retry.scheduled_at == run.end_time + minutes(5 * 2 ** (attempt - 1))
        entry = dispatch(retry)

    assert attempts == [1, 1, 0]  # attempts 1 and 2 are retried; attempt 3 stays failed


def test_a_one_off_with_max_retries_zero_is_never_retried(clock: datetime) -> None:
    entry = one_off(max_retries=0)
    finished(None, ended=clock - minutes(1), work_queue=entry, attempt=1)

    assert retry_step(cycle_at(clock)).one_off_runs == 0
    assert queued() == []


@pytest.mark.parametrize(
    ("state", "exception"),
    [(TrainState.CANCELLED, ""), (TrainState.FAILED, "UnknownTrain"), (TrainState.COMPLETED, "")],
)
def test_a_one_off_run_that_did_not_fail_retryably_is_not_retried(
    clock: datetime, state: str, exception: str
) -> None:
    entry = one_off(max_retries=2)
    finished(
        None,
        ended=clock - minutes(1),
        work_queue=entry,
        attempt=1,
        state=state,
        exception=exception,
    )

    assert retry_step(cycle_at(clock)).one_off_runs == 0
    assert queued() == []


def test_a_one_off_retry_is_queued_once(clock: datetime) -> None:
    entry = one_off(max_retries=2)
    run = finished(None, ended=clock - minutes(1), work_queue=entry, attempt=1)

    first = retry_step(cycle_at(clock))
    second = retry_step(cycle_at(clock + minutes(1)))

    assert (first.one_off_runs, second.one_off_runs) == (1, 0)
    assert WorkQueue.objects.filter(retry_of=run).count() == 1
    assert reload(run).train_state == TrainState.FAILED


def test_a_one_off_whose_dispatch_attempts_ran_out_stays_failed(clock: datetime) -> None:
    entry = one_off(max_retries=2)
    finished(
        None, ended=clock - minutes(1), work_queue=entry, attempt=1, exception="DispatchFailed"
    )

    assert retry_step(cycle_at(clock)).one_off_runs == 0
    assert queued() == []


@pytest.mark.parametrize("failures", [1, 2, 30, 1025, 10**6])
@pytest.mark.parametrize("multiplier", [1.0, 2.0, 100.0])
def test_the_retry_delay_never_overflows_and_keeps_to_its_cap(
    failures: int, multiplier: float
) -> None:
    from trax.manager.config import ManagerConfig

    config = ManagerConfig(
        retry_delay_seconds=5.0, retry_backoff_multiplier=multiplier, max_retry_delay_seconds=3600
    )

    delay = config.retry_delay(failures)

    expected = min(5.0 * multiplier ** min(failures - 1, 20), 3600.0)
    assert delay == pytest.approx(expected)
