"""Recording finished runs: outcomes fenced by claim token, the job row cleared, the manifest's
success stamped (a ``once`` manifest disables itself), shutdown-cancelled runs queued again;
many completions in one call."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

import trax
from tests.trax.dispatch.factories import GREET, PERSON, claim, dispatch_all, enqueue_jobs
from trax.models import (
    BackgroundJob,
    CancelReason,
    Manifest,
    Metadata,
    TrainState,
    WorkQueue,
    WorkQueueStatus,
)
from trax.store import (
    NewWorkEntry,
    RunOutcome,
    metadata_fail_in_progress,
    metadata_finish,
    metadata_request_cancel,
)
from trax.store.background_jobs.claim import ClaimedRun
from trax.store.background_jobs.completion import Completion, background_job_complete

pytestmark = pytest.mark.django_db

COMPLETED = RunOutcome(state=TrainState.COMPLETED, output={"greeting": "hi", "signed_by": "me"})
FAILED = RunOutcome(
    state=TrainState.FAILED,
    failure_junction="charge_card",
    failure_exception="PaymentDeclined",
    failure_reason="declined",
    stack_trace="Traceback ...",
)
SHUTDOWN = RunOutcome(state=TrainState.CANCELLED, cancel_reason=CancelReason.SHUTDOWN)


def claimed_runs(n: int = 1) -> list[ClaimedRun]:
    enqueue_jobs(n)
    got = claim(limit=n)
    assert len(got) == n
    return got


def completion(run: ClaimedRun, outcome: RunOutcome, **fields: Any) -> Completion:
    fields.setdefault("claim_token", run.claim_token)
    fields.setdefault("manifest_id", run.manifest_id)
    return Completion(metadata_id=run.metadata_id, outcome=outcome, **fields)


def complete(*completions: Completion) -> set[int]:
    return background_job_complete(completions, using="default")


def row(run: ClaimedRun) -> Metadata:
    return Metadata.objects.get(id=run.metadata_id)


def claimed_manifest_run(external_id: str, **options: Any) -> tuple[Manifest, ClaimedRun]:
    m = trax.scheduler.schedule(external_id, GREET, PERSON, trax.Every.minutes(5), **options)
    trax.scheduler.trigger(external_id)
    dispatch_all()
    (run,) = claim()
    assert run.manifest_id == m.pk
    return m, run


def test_a_completed_outcome_lands_and_clears_the_job() -> None:
    (run,) = claimed_runs()

    assert complete(completion(run, COMPLETED)) == {run.metadata_id}

    r = row(run)
    assert r.train_state == TrainState.COMPLETED
    assert r.output == COMPLETED.output
    assert r.end_time is not None and r.start_time is not None and r.end_time >= r.start_time
    assert r.failure_exception == ""
    assert not BackgroundJob.objects.exists()


def test_a_failed_outcome_lands_with_its_failure() -> None:
    (run,) = claimed_runs()

    assert complete(completion(run, FAILED)) == {run.metadata_id}

    r = row(run)
    assert r.train_state == TrainState.FAILED
    assert (r.failure_junction, r.failure_exception, r.failure_reason, r.stack_trace) == (
        "charge_card",
        "PaymentDeclined",
        "declined",
        "Traceback ...",
    )
    assert r.output is None
    assert not BackgroundJob.objects.exists()


def test_a_cancelled_outcome_lands_with_its_reason() -> None:
    (run,) = claimed_runs()
    outcome = RunOutcome(state=TrainState.CANCELLED, cancel_reason=CancelReason.OPERATOR)

    assert complete(completion(run, outcome)) == {run.metadata_id}

    r = row(run)
    assert r.train_state == TrainState.CANCELLED
    assert r.cancel_reason == CancelReason.OPERATOR
    assert not BackgroundJob.objects.exists()


def test_a_cancel_reason_already_recorded_is_kept() -> None:
    (run,) = claimed_runs()
    metadata_request_cancel(run.metadata_id, reason=CancelReason.TIMEOUT, using="default")
    outcome = RunOutcome(state=TrainState.CANCELLED, cancel_reason=CancelReason.OPERATOR)

    assert complete(completion(run, outcome)) == {run.metadata_id}

    assert row(run).cancel_reason == CancelReason.TIMEOUT


def test_the_progress_columns_are_cleared() -> None:
    (run,) = claimed_runs()
    Metadata.objects.filter(id=run.metadata_id).update(currently_running_junction="sign")
    complete(completion(run, COMPLETED))
    r = row(run)
    assert r.currently_running_junction == ""
    assert r.junction_started_at is None


TIMINGS = [
    {
        "name": "compose",
        "started_at": 0.000012,
        "ended_at": 0.25,
        "outcome": "completed",
    },
    {
        "name": "charge_card",
        "started_at": 0.250003,
        "ended_at": 1.0,
        "outcome": "failed",
    },
]


def test_the_junction_timings_land_with_the_outcome() -> None:
    first, second, third = claimed_runs(3)
    failed = replace(FAILED, junction_timings=TIMINGS)
    done = replace(COMPLETED, junction_timings=TIMINGS[:1])

    landed = complete(
        completion(first, failed), completion(second, done), completion(third, SHUTDOWN)
    )

    assert landed == {first.metadata_id, second.metadata_id, third.metadata_id}
    assert row(first).junction_timings == TIMINGS
    assert row(second).junction_timings == TIMINGS[:1]
    assert row(third).junction_timings is None  # an outcome without timings stores none


def test_the_junction_timings_land_through_metadata_finish() -> None:
    (run,) = claimed_runs()

    assert metadata_finish(run.metadata_id, replace(FAILED, junction_timings=TIMINGS))

    assert row(run).junction_timings == TIMINGS


def test_housekeeping_that_fails_a_run_leaves_no_junction_timings() -> None:
    (run,) = claimed_runs()

    metadata_fail_in_progress(
        [run.metadata_id], exception="StaleInProgress", reason="reaped", using="default"
    )

    assert row(run).train_state == TrainState.FAILED
    assert row(run).junction_timings is None


def test_a_wrong_token_does_not_land_and_leaves_the_run_alone() -> None:
    (run,) = claimed_runs()

    assert complete(completion(run, COMPLETED, claim_token=uuid.uuid4())) == set()

    r = row(run)
    assert r.train_state == TrainState.IN_PROGRESS
    assert r.end_time is None and r.output is None
    job = BackgroundJob.objects.get(metadata_id=run.metadata_id)
    assert job.claim_token == run.claim_token and job.claimed_by == "w-1"


def test_a_run_whose_claim_went_to_another_worker_keeps_the_new_owners_result() -> None:
    """The old worker's job was reaped and the run retried elsewhere: the stale completion
    writes nothing."""
    (run,) = claimed_runs()
    from trax.store.background_jobs.reaper import background_job_reap_expired

    background_job_reap_expired(using="default", worker_id="w-1")
    assert row(run).failure_exception == "WorkerLost"

    assert complete(completion(run, COMPLETED)) == set()

    r = row(run)
    assert r.train_state == TrainState.FAILED
    assert r.failure_exception == "WorkerLost"
    assert r.output is None


def test_a_second_completion_of_the_same_claim_does_not_land() -> None:
    (run,) = claimed_runs()
    assert complete(completion(run, COMPLETED)) == {run.metadata_id}
    assert complete(completion(run, FAILED)) == set()
    assert row(run).train_state == TrainState.COMPLETED


def test_many_completions_in_one_call_return_the_ids_that_landed() -> None:
    a, b, c, d = claimed_runs(4)

    landed = complete(
        completion(a, COMPLETED),
        completion(b, FAILED),
        completion(c, COMPLETED, claim_token=uuid.uuid4()),
        completion(d, RunOutcome(state=TrainState.CANCELLED, cancel_reason="operator")),
    )

    assert landed == {a.metadata_id, b.metadata_id, d.metadata_id}
    assert [row(x).train_state for x in (a, b, c, d)] == [
        TrainState.COMPLETED,
        TrainState.FAILED,
        TrainState.IN_PROGRESS,
        TrainState.CANCELLED,
    ]
    assert list(BackgroundJob.objects.values_list("metadata_id", flat=True)) == [c.metadata_id]


def test_nothing_to_complete_is_a_no_op() -> None:
    assert complete() == set()


def test_a_completed_manifest_run_stamps_the_manifests_last_success() -> None:
    m, run = claimed_manifest_run("stamped")

    assert complete(completion(run, COMPLETED)) == {run.metadata_id}

    m.refresh_from_db()
    assert m.last_successful_run is not None
    assert m.last_successful_run == row(run).end_time
    assert m.is_enabled and not m.is_enabled_overridden


def test_a_failed_manifest_run_does_not_stamp_a_success() -> None:
    m, run = claimed_manifest_run("not-stamped")
    complete(completion(run, FAILED))
    m.refresh_from_db()
    assert m.last_successful_run is None


def test_a_once_manifest_disables_itself_when_it_succeeds() -> None:
    m = trax.scheduler.schedule_once(GREET, PERSON, delay=3600, external_id="once-only")
    trax.scheduler.trigger("once-only")
    dispatch_all()
    (run,) = claim()

    complete(completion(run, COMPLETED))

    m.refresh_from_db()
    assert not m.is_enabled
    assert m.is_enabled_overridden
    assert m.last_successful_run == row(run).end_time


def test_an_interval_manifest_stays_enabled() -> None:
    m, run = claimed_manifest_run("stays-on")
    complete(completion(run, COMPLETED))
    m.refresh_from_db()
    assert m.is_enabled


def next_attempt(run: ClaimedRun) -> NewWorkEntry:
    assert run.work_queue_id is not None
    entry = WorkQueue.objects.get(id=run.work_queue_id)
    return NewWorkEntry(
        train_name=entry.train_name,
        input=entry.input,
        manifest_id=entry.manifest_id,
        origin_id=entry.origin_id or entry.id,
        priority=entry.priority,
        attempt=run.attempt + 1,
        is_explicit_trigger=True,
    )


def test_a_shutdown_cancelled_completion_queues_its_next_attempt() -> None:
    (run,) = claimed_runs()
    requeue = next_attempt(run)

    assert complete(completion(run, SHUTDOWN, requeue=requeue)) == {run.metadata_id}

    r = row(run)
    assert r.train_state == TrainState.CANCELLED
    assert r.cancel_reason == CancelReason.SHUTDOWN
    again = WorkQueue.objects.get(status=WorkQueueStatus.QUEUED)
    assert again.external_id == requeue.external_id
    assert again.origin_id == run.work_queue_id
    assert again.attempt == 2
    assert (again.train_name, again.input) == (GREET, PERSON)


def test_a_requeue_is_ignored_unless_the_run_was_cancelled_for_shutdown() -> None:
    a, b = claimed_runs(2)
    operator = RunOutcome(state=TrainState.CANCELLED, cancel_reason=CancelReason.OPERATOR)
    complete(
        completion(a, COMPLETED, requeue=next_attempt(a)),
        completion(b, operator, requeue=next_attempt(b)),
    )
    assert not WorkQueue.objects.filter(status=WorkQueueStatus.QUEUED).exists()


def test_a_requeue_of_a_completion_that_did_not_land_is_not_inserted() -> None:
    (run,) = claimed_runs()
    complete(completion(run, SHUTDOWN, claim_token=uuid.uuid4(), requeue=next_attempt(run)))
    assert not WorkQueue.objects.filter(status=WorkQueueStatus.QUEUED).exists()


def test_a_completion_whose_run_was_finished_by_someone_else_does_not_land() -> None:
    m, run = claimed_manifest_run("finished-elsewhere")
    metadata_fail_in_progress(
        [run.metadata_id], exception="StaleInProgress", reason="backstop", using="default"
    )

    landed = complete(completion(run, COMPLETED))

    m.refresh_from_db()
    assert row(run).train_state == TrainState.FAILED
    assert m.last_successful_run is None
    assert landed == set()


def test_a_run_an_operator_cancelled_is_not_requeued_by_a_racing_shutdown() -> None:
    (run,) = claimed_runs()
    metadata_request_cancel(run.metadata_id, reason=CancelReason.OPERATOR, using="default")

    complete(completion(run, SHUTDOWN, requeue=next_attempt(run)))

    assert row(run).cancel_reason == CancelReason.OPERATOR
    assert not WorkQueue.objects.filter(status=WorkQueueStatus.QUEUED).exists()
