"""The worker pool in this process, with tiny intervals: claim, run, complete, heartbeat,
cancel from elsewhere, graceful shutdown within and past its grace period."""

from __future__ import annotations

import gc
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections

import trax
from tests.trax.dispatch.factories import GREET, SLOW, dispatch_all, wait_until
from tests.trax.sessions import idle_pool_members
from trax.models import (
    BackgroundJob,
    CancelReason,
    Metadata,
    TrainState,
    Worker,
    WorkerKind,
    WorkQueue,
    WorkQueueStatus,
)
from trax.store import metadata_request_cancel, run_records_alias
from trax.workers import pool as pool_module
from trax.workers.pool import ShutdownReport, WorkerConfig, WorkerPool

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = "test-host/pool"


def config(**overrides: Any) -> WorkerConfig:
    fields: dict[str, Any] = {
        "worker_id": WORKER,
        "concurrency": 4,
        "lease_seconds": 5.0,
        "heartbeat_interval": 0.05,
        "polling_interval": 0.05,
        "cancel_check_interval": 0.05,
        "shutdown_timeout": 10.0,
        "using": "default",
        **overrides,
    }
    return WorkerConfig(**fields)


@pytest.fixture
def start_pool() -> Iterator[Callable[..., WorkerPool]]:
    """``start_pool(**config)``: a started pool, shut down at the end if the test did not."""
    pools: list[WorkerPool] = []

    def start(**overrides: Any) -> WorkerPool:
        pool = WorkerPool(config(**overrides))
        pool.start()
        pools.append(pool)
        return pool

    yield start
    for pool in pools:
        if not pool.stopping.is_set():
            pool.shutdown(grace=0)
    gc.collect()  # whatever a failed test left behind, so the test database can be dropped


def lease() -> datetime:
    """The lease of the only job."""
    expires = BackgroundJob.objects.get().lease_expires_at
    assert expires is not None
    return expires


def slow(steps: int, per_step: float) -> dict[str, Any]:
    return {"steps": steps, "seconds_per_step": per_step}


def states(name: str) -> list[str]:
    return list(Metadata.objects.filter(name=name).values_list("train_state", flat=True))


def test_a_pool_runs_dispatched_jobs_to_completion_and_shuts_down(
    start_pool: Callable[..., WorkerPool],
) -> None:
    pool = start_pool()
    row = Worker.objects.get(worker_id=WORKER)
    assert (row.kind, row.concurrency, row.host) == (WorkerKind.WORKER, 4, socket.gethostname())
    names = [f"n{i}" for i in range(10)]
    ids = trax.enqueue_many(GREET, [{"name": n} for n in names])

    dispatch_all()
    wait_until(lambda: states(GREET).count(TrainState.COMPLETED) == 10, what="10 completed runs")

    report = pool.shutdown()

    assert report == ShutdownReport(finished_in_grace=0, cancelled_for_shutdown=0, still_running=0)
    assert not Worker.objects.filter(worker_id=WORKER).exists()
    assert not BackgroundJob.objects.exists()
    assert pool.claimed_total == 10
    for external_id, name in zip(ids, names, strict=True):
        run = Metadata.objects.get(work_queue__external_id=external_id)
        assert run.output == {
            "greeting": f"HELLO, {name.upper()}!",
            "signed_by": f"the {name} fan club",
        }
        assert run.start_time is not None and run.end_time is not None
        assert run.executor == pool.service.executor
        assert run.host_name == pool.service.host.name


def test_the_pool_never_runs_more_than_its_concurrency(
    start_pool: Callable[..., WorkerPool],
) -> None:
    pool = start_pool(concurrency=2)
    trax.enqueue_many(SLOW, [slow(1, 0.2)] * 5)
    dispatch_all()
    seen: list[int] = []

    def all_done() -> bool:
        # Threads running a train (a finished run may still read in_progress in the database
        # for the few milliseconds until its batched completion commits).
        seen.append(pool.runs_in_flight())
        return states(SLOW).count(TrainState.COMPLETED) == 5

    wait_until(all_done, what="5 completed slow runs")
    pool.shutdown()
    assert max(seen) <= 2


def test_a_failing_train_is_recorded_as_failed(start_pool: Callable[..., WorkerPool]) -> None:
    pool = start_pool()
    trax.enqueue("demo.always_fails", {"name": "x"})
    dispatch_all()
    wait_until(lambda: states("demo.always_fails") == [TrainState.FAILED], what="a failed run")
    pool.shutdown()
    run = Metadata.objects.get(name="demo.always_fails")
    assert (run.failure_junction, run.failure_exception) == ("charge_card", "PaymentDeclined")
    assert not BackgroundJob.objects.exists()


def names_and_outcomes(run: Metadata) -> list[tuple[str, str]]:
    assert run.junction_timings is not None
    return [(t["name"], t["outcome"]) for t in run.junction_timings]


def test_a_worker_run_stores_its_junction_timings_with_its_outcome(
    start_pool: Callable[..., WorkerPool],
) -> None:
    pool = start_pool()
    trax.enqueue(GREET, {"name": "x"})
    trax.enqueue("demo.always_fails", {"name": "x"})
    dispatch_all()
    wait_until(
        lambda: (
            states(GREET) == [TrainState.COMPLETED]
            and states("demo.always_fails") == [TrainState.FAILED]
        ),
        what="a completed and a failed run",
    )
    pool.shutdown()

    done = Metadata.objects.get(name=GREET)
    assert names_and_outcomes(done) == [
        ("ComposeGreeting", "completed"),
        ("shout", "completed"),
        ("sign", "completed"),
    ]
    assert done.junction_timings is not None
    moments = [t[key] for t in done.junction_timings for key in ("started_at", "ended_at")]
    assert moments == sorted(moments) and moments[0] >= 0
    shout = done.junction_timings[1]  # async: awaits asyncio.sleep(0.01)
    assert shout["ended_at"] > shout["started_at"]
    failed = Metadata.objects.get(name="demo.always_fails")
    assert names_and_outcomes(failed) == [
        ("ComposeGreeting", "completed"),
        ("charge_card", "failed"),
    ]


def test_a_run_of_a_train_this_worker_does_not_have_fails_as_unknown_train(
    start_pool: Callable[..., WorkerPool],
) -> None:
    pool = start_pool()
    WorkQueue.objects.create(train_name="removed.in.this.deploy", input={})
    dispatch_all()
    wait_until(lambda: states("removed.in.this.deploy") == [TrainState.FAILED], what="a failed run")
    pool.shutdown()
    run = Metadata.objects.get(name="removed.in.this.deploy")
    assert run.failure_exception == "UnknownTrain"
    assert run.junction_timings is None  # it ran no junction
    assert not BackgroundJob.objects.exists()


def test_a_completed_manifest_run_stamps_its_manifest(
    start_pool: Callable[..., WorkerPool],
) -> None:
    pool = start_pool()
    m = trax.scheduler.schedule("pool-m", GREET, {"name": "m"}, trax.Every.minutes(5))
    trax.scheduler.trigger("pool-m")
    dispatch_all()
    wait_until(lambda: states(GREET) == [TrainState.COMPLETED], what="the manifest run")
    pool.shutdown()
    m.refresh_from_db()
    assert m.last_successful_run == Metadata.objects.get(manifest=m).end_time


def test_the_heartbeat_renews_the_leases_of_running_jobs(
    start_pool: Callable[..., WorkerPool],
) -> None:
    pool = start_pool(lease_seconds=1.0, heartbeat_interval=0.05)
    trax.enqueue(SLOW, slow(400, 0.05))
    dispatch_all()
    wait_until(lambda: BackgroundJob.objects.filter(claimed_by=WORKER).exists(), what="a claim")
    first = lease()
    wait_until(lambda: lease() > first, what="a renewed lease")
    wait_until(
        lambda: Worker.objects.get(worker_id=WORKER).runs_in_flight == 1, what="runs in flight"
    )
    pool.shutdown(grace=0)


def test_a_cancel_from_elsewhere_reaches_the_running_job(
    start_pool: Callable[..., WorkerPool],
) -> None:
    pool = start_pool()
    trax.enqueue(SLOW, slow(400, 0.05))
    dispatch_all()
    wait_until(lambda: states(SLOW) == [TrainState.IN_PROGRESS], what="the run to start")
    run = Metadata.objects.get(name=SLOW)

    # The store's cancel only flags the run and notifies: no local token is fired here, so the
    # pool's cancel watcher has to find it.
    metadata_request_cancel(run.pk, reason=CancelReason.OPERATOR, using=run_records_alias())

    wait_until(lambda: states(SLOW) == [TrainState.CANCELLED], timeout=10, what="the cancel")
    pool.shutdown()
    run.refresh_from_db()
    assert run.cancel_reason == CancelReason.OPERATOR
    assert not WorkQueue.objects.filter(status=WorkQueueStatus.QUEUED).exists()  # not requeued
    assert not BackgroundJob.objects.exists()


def test_shutdown_within_the_grace_period_lets_runs_finish(
    start_pool: Callable[..., WorkerPool],
) -> None:
    pool = start_pool()
    trax.enqueue(SLOW, slow(4, 0.1))
    dispatch_all()
    wait_until(lambda: pool.runs_in_flight() == 1, what="the run to be in flight")

    report = pool.shutdown(grace=30)

    assert report == ShutdownReport(finished_in_grace=1, cancelled_for_shutdown=0, still_running=0)
    assert states(SLOW) == [TrainState.COMPLETED]
    assert not WorkQueue.objects.filter(status=WorkQueueStatus.QUEUED).exists()
    assert not Worker.objects.filter(worker_id=WORKER).exists()


def test_shutdown_past_the_grace_period_cancels_and_queues_a_new_attempt(
    start_pool: Callable[..., WorkerPool],
) -> None:
    pool = start_pool(shutdown_timeout=0.2)
    (ext,) = trax.enqueue_many(SLOW, [slow(2000, 0.05)], priority=4, max_retries=2)
    dispatch_all()
    wait_until(
        lambda: states(SLOW) == [TrainState.IN_PROGRESS] and pool.runs_in_flight() == 1,
        what="the run to start",
    )
    first = WorkQueue.objects.get(external_id=ext)

    report = pool.shutdown()

    assert report == ShutdownReport(finished_in_grace=0, cancelled_for_shutdown=1, still_running=0)
    run = Metadata.objects.get(name=SLOW)
    assert run.train_state == TrainState.CANCELLED
    assert run.cancel_reason == CancelReason.SHUTDOWN
    again = WorkQueue.objects.get(status=WorkQueueStatus.QUEUED)
    assert again.origin_id == first.pk
    # A shutdown is not a failure: the new run keeps the attempt number, and so the budget.
    assert again.attempt == first.attempt == 1
    assert (again.train_name, again.input, again.priority) == (SLOW, first.input, 4)
    assert again.max_retries == 2
    assert again.external_id != first.external_id
    assert not BackgroundJob.objects.exists()
    assert not Worker.objects.filter(worker_id=WORKER).exists()

    # It is dispatched like any entry: a new run of the same lineage.
    dispatch_all()
    second = Metadata.objects.get(work_queue=again)
    assert second.attempt == 1 and second.pk != run.pk
    assert second.train_state == TrainState.PENDING


def test_a_pool_that_stops_claiming_leaves_new_jobs_for_others(
    start_pool: Callable[..., WorkerPool],
) -> None:
    pool = start_pool()
    pool.shutdown()
    trax.enqueue(GREET, {"name": "later"})
    dispatch_all()
    assert pool.claim_once() == 0
    job = BackgroundJob.objects.get()
    assert job.claimed_by is None


def other_sessions() -> list[tuple[int, str]]:
    """PostgreSQL sessions on the test database other than this thread's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, left(query, 60) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return list(cursor.fetchall())


@pytest.mark.postgresql
def test_shutdown_leaves_no_database_session_behind(
    start_pool: Callable[..., WorkerPool],
) -> None:
    """Regression: run threads used to keep their connections open after shutdown until the
    garbage collector freed them."""
    connections["trax"].close()  # this thread's own second session
    pool = start_pool()
    trax.enqueue_many(GREET, [{"name": "s"}] * 4)
    dispatch_all()
    gc.disable()  # only an explicit close may end a session here
    try:
        wait_until(lambda: states(GREET).count(TrainState.COMPLETED) == 4, what="4 runs")
        pool.shutdown()
        # A closed session takes a moment to leave pg_stat_activity; a leaked one never does.
        wait_until(
            lambda: len(other_sessions()) == idle_pool_members(),
            timeout=5,
            what="no session outside the pool",
        )
    finally:
        gc.enable()


def test_a_run_that_outlives_the_shutdown_does_not_hang_its_thread(
    start_pool: Callable[..., WorkerPool],
) -> None:
    """Regression: a run ending after its worker stopped used to wait forever for the stopped
    completer, and (on a ThreadPoolExecutor thread, joined at exit) kept the process alive."""
    from tests.trax.workers.trains import (
        STUBBORN_RELEASE,
        STUBBORN_STARTED,
        Stubborn,
        StubbornTrain,
    )

    STUBBORN_STARTED.clear()
    STUBBORN_RELEASE.clear()
    pool = start_pool(shutdown_timeout=0)
    trax.enqueue(StubbornTrain, Stubborn(60))
    dispatch_all()
    try:
        assert STUBBORN_STARTED.wait(10)
        report = pool.shutdown()  # cancels the token; the junction ignores it
        assert report.still_running == 1

        STUBBORN_RELEASE.set()  # the run ends now, after its worker stopped

        wait_until(lambda: pool.runs_in_flight() == 0, timeout=3, what="the run thread to end")
    finally:
        STUBBORN_RELEASE.set()
        unstick(pool)


def unstick(pool: WorkerPool) -> None:
    """Answer every completion still waiting for the stopped completer, so no thread is left
    blocked when the test ends."""
    import queue as queues

    wait_until(lambda: pool.runs_in_flight() == 0 or not pool.completer._queue.empty(), timeout=10)
    while pool.runs_in_flight():
        try:
            pending = pool.completer._queue.get(timeout=0.05)
        except queues.Empty:
            continue
        if pending is not None and not pending.landed.done():
            pending.landed.set_result(False)


def test_a_long_run_shows_its_junction_once_a_heartbeat_published_it(
    start_pool: Callable[..., WorkerPool],
) -> None:
    pool = start_pool(heartbeat_interval=0.05)
    trax.enqueue(SLOW, slow(400, 0.05))
    wait_until(lambda: states(SLOW) == [TrainState.IN_PROGRESS], what="the run to start")

    run = Metadata.objects.get(name=SLOW)
    wait_until(
        lambda: Metadata.objects.get(pk=run.pk).currently_running_junction != "",
        what="the junction published by a heartbeat",
    )
    run.refresh_from_db()
    assert run.currently_running_junction == "WorkSlowly"
    assert run.junction_started_at is not None and run.start_time is not None
    assert run.junction_started_at >= run.start_time - timedelta(milliseconds=50)
    pool.shutdown(grace=0)


def test_a_heartbeat_racing_a_completion_raises_no_false_alarm(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from trax.core import CancellationToken
    from trax.store import ClaimedRun

    pool = WorkerPool(config())  # not started: the race is staged by hand
    finished, running = CancellationToken(), CancellationToken()

    def claimed(run_id: int) -> ClaimedRun:
        return ClaimedRun(
            job_id=run_id,
            metadata_id=run_id,
            name=GREET,
            input={},
            external_id=uuid.uuid4(),
            manifest_id=None,
            parent_id=None,
            attempt=1,
            work_queue_id=None,
            claim_token=uuid.uuid4(),
        )

    pool._in_flight = {1: (claimed(1), finished), 2: (claimed(2), running)}
    pool._completing = {1}  # run 1 ended: its outcome is with the completer

    with caplog.at_level("WARNING", logger="trax.workers"):
        pool._claims_lost({1})
    assert not caplog.records and not finished.cancelled

    with caplog.at_level("WARNING", logger="trax.workers"):
        pool._claims_lost({1, 2})
    assert [r.getMessage() for r in caplog.records] == [
        "lost the claims of runs [2]; stopping them"
    ]
    assert running.cancelled and not finished.cancelled


def test_an_unexpected_error_while_claiming_is_logged_and_the_loop_goes_on(
    start_pool: Callable[..., WorkerPool],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Regression: only database errors were caught; anything else ended the claim loop and
    the worker looked alive while claiming nothing."""
    real_claim = pool_module.background_job_claim
    calls = {"n": 0}

    def flaky_claim(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in claiming")
        return real_claim(**kwargs)

    monkeypatch.setattr(pool_module, "background_job_claim", flaky_claim)
    pool = start_pool()
    trax.enqueue_many(GREET, [{"name": "x"}] * 2)
    dispatch_all()

    wait_until(lambda: states(GREET).count(TrainState.COMPLETED) == 2, what="2 completed runs")
    pool.shutdown()
    assert calls["n"] > 1
    assert "claiming failed" in caplog.text and "a bug in claiming" in caplog.text
