"""A worker that lost its claim cannot overwrite the new owner's result (reliability anchors
R1): in one process, worker A's claim expires and is reaped, worker B runs the retry, and A's
late completion and heartbeat land nothing."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connections, transaction
from django.utils import timezone

import trax
from tests.integration.conftest import dispatch_now, wait_for, work
from trax.effects.host import detect_executor, detect_host
from trax.manager.cycle import run_manager_cycle
from trax.models import BackgroundJob, Manifest, Metadata, TrainState, WorkQueue
from trax.store.claim import ClaimedRun, background_job_claim
from trax.store.completion import Completion, background_job_complete
from trax.store.metadata import RunOutcome
from trax.store.reaper import background_job_reap_expired
from trax.store.workers import worker_heartbeat

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

USING = "trax"  # the run records' connection, as in the worker processes
A, B = "host/worker-a", "host/worker-b"


def claim(worker_id: str) -> ClaimedRun:
    (run,) = background_job_claim(
        worker_id=worker_id,
        limit=1,
        lease_seconds=30,
        host=detect_host(),
        executor=detect_executor(),
        using=USING,
    )
    return run


def completed(run: ClaimedRun, by: str) -> Completion:
    outcome = RunOutcome(state=TrainState.COMPLETED, output={"key": "fenced", "pid": 0, "by": by})
    return Completion(run.metadata_id, run.claim_token, outcome, manifest_id=run.manifest_id)


def expire_lease(run: ClaimedRun) -> None:
    BackgroundJob.objects.filter(metadata_id=run.metadata_id).update(
        lease_expires_at=timezone.now() - timedelta(minutes=1)
    )


@pytest.fixture
def manifest(work_dir: Path) -> Manifest:
    """A manifest with one retry, triggered and dispatched: one run with a free job row."""
    trax.scheduler.schedule(
        "it-fenced",
        "it.record",
        work(work_dir, "fenced"),
        trax.Every.hours(1),
        max_retries=1,
        retry_delay=0,
    )
    Manifest.objects.filter(external_id="it-fenced").update(
        next_run_at=timezone.now() + timedelta(hours=1)
    )
    trax.scheduler.trigger("it-fenced")
    assert dispatch_now() == 1
    return Manifest.objects.get(external_id="it-fenced")


def test_a_stale_claim_cannot_overwrite_the_new_owners_result(manifest: Manifest) -> None:
    stale = claim(A)
    expire_lease(stale)
    assert background_job_reap_expired(using=USING).failed == 1
    lost = Metadata.objects.get(id=stale.metadata_id)
    assert (lost.train_state, lost.failure_exception) == (TrainState.FAILED, "WorkerLost")

    run_manager_cycle(using=USING)  # the retry step queues the next attempt
    retry = WorkQueue.objects.get(retry_of_id=stale.metadata_id)
    assert dispatch_now() == 1
    fresh = claim(B)
    assert fresh.metadata_id != stale.metadata_id
    assert fresh.work_queue_id == retry.pk
    assert background_job_complete([completed(fresh, B)], using=USING) == {fresh.metadata_id}
    won = Metadata.objects.get(id=fresh.metadata_id)

    # A wakes up: its completion (for its own run, or naming B's) and its heartbeat land nothing.
    assert background_job_complete([completed(stale, A)], using=USING) == set()
    impostor = Completion(fresh.metadata_id, stale.claim_token, completed(stale, A).outcome)
    assert background_job_complete([impostor], using=USING) == set()
    assert worker_heartbeat(worker_id=A, runs_in_flight=1, lease_seconds=30, using=USING) == 0

    assert Metadata.objects.get(id=stale.metadata_id).train_state == TrainState.FAILED
    assert Metadata.objects.get(id=stale.metadata_id).output is None
    kept = Metadata.objects.get(id=fresh.metadata_id)
    assert (kept.train_state, kept.output["by"], kept.end_time) == (
        TrainState.COMPLETED,
        B,
        won.end_time,
    )
    manifest.refresh_from_db()
    assert manifest.last_successful_run == won.end_time
    assert not BackgroundJob.objects.exists()


def test_a_completion_racing_the_reaper_lands_exactly_one_outcome(manifest: Manifest) -> None:
    """Whichever commits first wins; the loser changes nothing."""
    stale = claim(A)
    expire_lease(stale)
    assert background_job_complete([completed(stale, A)], using=USING) == {stale.metadata_id}
    assert background_job_reap_expired(using=USING).failed == 0
    assert Metadata.objects.get(id=stale.metadata_id).train_state == TrainState.COMPLETED


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="BUG: background_job_reap_expired (trax/store/reaper.py) evaluates 'lease expired' "
    "anew in each of its three statements (READ COMMITTED: a fresh snapshot per statement). "
    "A heartbeat that renews the lease between the first UPDATE (run failed as WorkerLost) and "
    "the final DELETE leaves the job row, with A's claim token, behind; A's completion then "
    "'lands' (background_job_complete counts the deleted job row, not the metadata UPDATE), "
    "and stamps manifest.last_successful_run although the run is recorded as failed",
)
def test_a_heartbeat_between_the_reapers_statements_cannot_resurrect_a_reaped_claim(
    manifest: Manifest,
) -> None:
    stale = claim(A)
    expire_lease(stale)

    def heartbeat_after_the_first_update(execute: Any, sql: str, *args: Any) -> Any:
        result = execute(sql, *args)
        if "'WorkerLost'" in sql:  # the reaper's first statement just failed the run
            thread = threading.Thread(target=beat_from_worker_a)
            thread.start()
            thread.join(10)
            assert not thread.is_alive(), "the heartbeat blocked on the reaper's transaction"
        return result

    def beat_from_worker_a() -> None:
        try:
            worker_heartbeat(worker_id=A, runs_in_flight=1, lease_seconds=30, using=USING)
        finally:
            connections.close_all()

    with connections[USING].execute_wrapper(heartbeat_after_the_first_update):
        report = background_job_reap_expired(using=USING)
    assert report.failed == 1
    lost = Metadata.objects.get(id=stale.metadata_id)
    assert (lost.train_state, lost.failure_exception) == (TrainState.FAILED, "WorkerLost")

    landed = background_job_complete([completed(stale, A)], using=USING)
    manifest.refresh_from_db()
    assert (landed, manifest.last_successful_run) == (set(), None)
    assert not BackgroundJob.objects.filter(claimed_by=A).exists()


def test_a_heartbeat_and_a_completion_batch_of_the_same_worker_do_not_deadlock() -> None:
    """The heartbeat renews all of a worker's job rows while its completer deletes a batch of
    them; both lock those rows, so they must lock them in one order."""
    ids = trax.enqueue_many(
        "it.record", [{"key": f"d{n}", "dir": "/nonexistent"} for n in range(3)]
    )
    assert len(ids) == 3 and dispatch_now() == 3
    runs = sorted(
        background_job_claim(
            worker_id=A,
            limit=3,
            lease_seconds=30,
            host=detect_host(),
            executor=detect_executor(),
            using=USING,
        ),
        key=lambda run: run.metadata_id,
    )
    first, middle, last = runs
    errors: list[BaseException] = []
    with connections[USING].cursor() as cursor:
        cursor.execute("EXPLAIN DELETE FROM trax_background_job WHERE (metadata_id, claim_token) IN "
        "(VALUES (3, %s::uuid), (2, %s::uuid), (1, %s::uuid)) AND metadata_id IN (SELECT id FROM trax_metadata "
        "WHERE id = trax_background_job.metadata_id AND train_state <> 'in_progress') RETURNING metadata_id", [first.claim_token]*3)
        print("\n".join(r[0] for r in cursor.fetchall()))
        cursor.execute("EXPLAIN UPDATE trax_background_job SET lease_expires_at = now() WHERE claimed_by = 'x'")
        print("\n".join(r[0] for r in cursor.fetchall()))

    def in_thread(action: Any) -> threading.Thread:
        def target() -> None:
            try:
                action()
            except BaseException as error:
                errors.append(error)
            finally:
                connections.close_all()

        thread = threading.Thread(target=target)
        thread.start()
        return thread

    def waiting_on_locks() -> int:
        with connections[USING].cursor() as cursor:  # outside the test's transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE %s",
                ["%trax_background_job%"],
            )
            return cursor.fetchone()[0]

    with transaction.atomic(using="default"):
        # Something else (a claim, the reaper) holds the middle row for a moment.
        BackgroundJob.objects.select_for_update().get(metadata_id=middle.metadata_id)
        beat = in_thread(
            lambda: worker_heartbeat(worker_id=A, runs_in_flight=3, lease_seconds=30, using=USING)
        )
        wait_for(lambda: waiting_on_locks() == 1, "the heartbeat to wait for the middle row")
        done = [completed(run, A) for run in (last, middle, first)]  # in finishing order
        batch = in_thread(lambda: background_job_complete(done, using=USING))
        wait_for(lambda: waiting_on_locks() == 2, "the completion to wait too")
    beat.join(10)
    batch.join(10)

    assert errors == []
    assert Metadata.objects.filter(train_state=TrainState.COMPLETED).count() == 3
