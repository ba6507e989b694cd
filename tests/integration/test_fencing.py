"""A worker that lost its claim cannot overwrite the new owner's result (reliability anchors
R1): in one process, worker A's claim expires and is reaped, worker B runs the retry, and A's
late completion and heartbeat land nothing."""

from __future__ import annotations

import threading
from datetime import timedelta
from itertools import combinations
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
from trax.store.background_jobs.claim import ClaimedRun, background_job_claim
from trax.store.background_jobs.completion import Completion, background_job_complete
from trax.store.background_jobs.reaper import background_job_reap_expired
from trax.store.runs.metadata import RunOutcome
from trax.store.workers import worker_heartbeat

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("through_the_dispatcher"),
]

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
    assert not worker_heartbeat(
        worker_id=A, in_flight=[stale.metadata_id], lease_seconds=30, using=USING
    )

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


def test_a_heartbeat_between_the_reapers_statements_cannot_resurrect_a_reaped_claim(
    manifest: Manifest,
) -> None:
    stale = claim(A)
    expire_lease(stale)

    beats: list[threading.Thread] = []

    def heartbeat_after_the_first_update(execute: Any, sql: str, *args: Any) -> Any:
        result = execute(sql, *args)
        if "SET train_state = 'failed'" in sql:  # the reaper's first statement failed the run
            beats.append(threading.Thread(target=beat_from_worker_a))
            beats[0].start()
            beats[0].join(2)  # a reaper that locks the job rows makes it wait: fine too
        return result

    def beat_from_worker_a() -> None:
        try:
            worker_heartbeat(
                worker_id=A,
                in_flight=list(
                    BackgroundJob.objects.using(USING)
                    .filter(claimed_by=A)
                    .values_list("metadata_id", flat=True)
                ),
                lease_seconds=30,
                using=USING,
            )
        finally:
            connections.close_all()

    with connections[USING].execute_wrapper(heartbeat_after_the_first_update):
        report = background_job_reap_expired(using=USING)
    beats[0].join(10)
    assert report.failed == 1
    lost = Metadata.objects.get(id=stale.metadata_id)
    assert (lost.train_state, lost.failure_exception) == (TrainState.FAILED, "WorkerLost")

    landed = background_job_complete([completed(stale, A)], using=USING)
    manifest.refresh_from_db()
    assert (landed, manifest.last_successful_run) == (set(), None)
    assert not BackgroundJob.objects.filter(claimed_by=A).exists()


DELETE_SQL_PREFIX = "DELETE FROM trax_background_job WHERE (metadata_id, claim_token) IN"


def completion_lock_order(batch: list[ClaimedRun]) -> list[int]:
    """The order in which background_job_complete's DELETE visits (and locks) the batch's job
    rows: its own statement, run in a transaction that is rolled back (RETURNING keeps the
    order the rows were processed in)."""
    pairs = ", ".join(["(%s, %s::uuid)"] * len(batch))
    params = [value for run in batch for value in (run.metadata_id, run.claim_token)]
    with transaction.atomic(using=USING), connections[USING].cursor() as cursor:
        Metadata.objects.using(USING).filter(id__in=[r.metadata_id for r in batch]).update(
            train_state=TrainState.COMPLETED
        )
        cursor.execute(
            f"{DELETE_SQL_PREFIX} (VALUES {pairs}) AND metadata_id IN (SELECT id FROM "
            "trax_metadata WHERE id = trax_background_job.metadata_id AND train_state <> "
            "'in_progress') RETURNING metadata_id",
            params,
        )
        order = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True, using=USING)
    return order


def heartbeat_lock_order() -> list[int]:
    """The heartbeat's UPDATE scans the table: it locks rows in physical (ctid) order."""
    with connections[USING].cursor() as cursor:
        cursor.execute(
            "SELECT metadata_id FROM trax_background_job WHERE claimed_by = %s ORDER BY ctid", [A]
        )
        return [row[0] for row in cursor.fetchall()]


def deadlocking_plan(runs: list[ClaimedRun]) -> tuple[list[ClaimedRun], int]:
    """A batch and a row X such that: another transaction holds X; the heartbeat locks its
    rows up to X and queues on it first; the completion locks its rows up to X (or up to one
    the heartbeat holds) and waits; when X is freed the heartbeat takes it and then needs a row
    the completion holds, which waits for one the heartbeat holds: a cycle."""
    beat = heartbeat_lock_order()
    for size in range(len(runs), 1, -1):
        for batch in combinations(runs, size):
            order = completion_lock_order(list(batch))
            for x in order:
                held_by_beat = set(beat[: beat.index(x)])
                held_by_batch = set()
                for row in order:
                    if row == x or row in held_by_beat:
                        break
                    held_by_batch.add(row)
                if held_by_batch & set(beat[beat.index(x) + 1 :]):
                    return list(batch), x
    raise RuntimeError("no interleaving of these rows can deadlock: the test's premise is gone")


def test_a_heartbeat_and_a_completion_batch_of_the_same_worker_do_not_deadlock() -> None:
    """The heartbeat renews all of a worker's job rows while its completer deletes a batch of
    them, and something else (a claim, the reaper) briefly holds one of those rows."""
    trax.enqueue_many("it.record", [{"key": f"d{n}", "dir": "/nowhere"} for n in range(4)])
    assert dispatch_now() == 4
    runs = background_job_claim(
        worker_id=A,
        limit=4,
        lease_seconds=30,
        host=detect_host(),
        executor=detect_executor(),
        using=USING,
    )
    batch, contested = deadlocking_plan(runs)
    held_runs = [run.metadata_id for run in runs]
    errors: list[BaseException] = []

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

    def waiting_on_job_rows() -> int:
        with connections[USING].cursor() as cursor:  # outside the test's transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE %s",
                ["%trax_background_job%"],
            )
            return cursor.fetchone()[0]

    with transaction.atomic(using="default"):
        BackgroundJob.objects.select_for_update().get(metadata_id=contested)
        beat = in_thread(
            lambda: worker_heartbeat(
                worker_id=A, in_flight=held_runs, lease_seconds=30, using=USING
            )
        )
        # (Waits that end early too when a thread does not wait at all: a fix may lock less.)
        wait_for(
            lambda: waiting_on_job_rows() >= 1 or not beat.is_alive(),
            "the heartbeat to queue on the held row",
        )
        done = [completed(run, A) for run in batch]
        complete = in_thread(lambda: background_job_complete(done, using=USING))
        wait_for(
            lambda: waiting_on_job_rows() >= 2 or not (beat.is_alive() and complete.is_alive()),
            "the completion to wait too",
        )
    beat.join(10)
    complete.join(10)

    assert errors == []
    completed_runs = Metadata.objects.filter(train_state=TrainState.COMPLETED)
    assert completed_runs.count() == len(batch)
