"""The reaper: expired leases (database time) belong to dead workers. In-progress runs fail as
WorkerLost, claimed-but-unstarted jobs are released, live leases are left alone; per-worker
recovery ignores lease times; the manager step prunes stale worker rows."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from tests.trax.dispatch.factories import claim, enqueue_jobs, expire_lease, seconds
from trax.manager.config import ManagerConfig
from trax.manager.context import Cycle
from trax.manager.steps.reaper import ReapedLeases, reap_expired_leases
from trax.models import BackgroundJob, Metadata, TrainState, Worker, WorkerKind
from trax.store import database_now
from trax.store.background_jobs.reaper import ReapReport, background_job_reap_expired

pytestmark = pytest.mark.django_db


def reap(**kwargs: Any) -> ReapReport:
    return background_job_reap_expired(using="default", **kwargs)


def state(run: Metadata) -> str:
    run.refresh_from_db()
    return run.train_state


def claimed_but_unstarted(run: Metadata, worker: str, *, expires_in: float) -> BackgroundJob:
    """A job claimed by ``worker`` whose run never started (a design that claims ahead)."""
    BackgroundJob.objects.filter(metadata=run).update(
        claimed_by=worker,
        claim_token=uuid.uuid4(),
        lease_expires_at=database_now() + seconds(expires_in),
    )
    return BackgroundJob.objects.get(metadata=run)


def test_an_expired_in_progress_claim_fails_the_run_as_worker_lost() -> None:
    (run,) = enqueue_jobs(1)
    claim("dead")
    Metadata.objects.filter(id=run.pk).update(currently_running_junction="shout")
    expire_lease({"claimed_by": "dead"})

    report = reap()

    assert report == ReapReport(failed=1, released=0, removed=0)
    run.refresh_from_db()
    assert run.train_state == TrainState.FAILED
    assert run.failure_exception == "WorkerLost"
    assert "lease" in run.failure_reason
    assert run.end_time is not None
    assert run.currently_running_junction == ""
    assert not BackgroundJob.objects.exists()


def test_an_expired_claim_of_an_unstarted_run_is_released() -> None:
    (run,) = enqueue_jobs(1)
    claimed_but_unstarted(run, "dead", expires_in=-1)

    report = reap()

    assert report == ReapReport(failed=0, released=1, removed=0)
    assert state(run) == TrainState.PENDING
    job = BackgroundJob.objects.get(metadata=run)
    assert (job.claimed_by, job.claim_token, job.lease_expires_at) == (None, None, None)
    # Released for another worker.
    (again,) = claim("alive")
    assert again.metadata_id == run.pk


def test_a_live_lease_is_left_alone() -> None:
    started, unstarted = enqueue_jobs(2)
    claim("alive", limit=1, lease=30)
    claimed_but_unstarted(unstarted, "alive", expires_in=30)
    before = dict(BackgroundJob.objects.values_list("id", "lease_expires_at"))

    assert reap() == ReapReport(failed=0, released=0, removed=0)

    assert state(started) == TrainState.IN_PROGRESS
    assert state(unstarted) == TrainState.PENDING
    assert dict(BackgroundJob.objects.values_list("id", "lease_expires_at")) == before
    assert set(BackgroundJob.objects.values_list("claimed_by", flat=True)) == {"alive"}


def test_unclaimed_jobs_are_left_alone() -> None:
    enqueue_jobs(2)
    assert reap() == ReapReport(failed=0, released=0, removed=0)
    assert BackgroundJob.objects.count() == 2


def test_an_expired_job_whose_run_already_finished_is_removed() -> None:
    (run,) = enqueue_jobs(1)
    claim("dead")
    Metadata.objects.filter(id=run.pk).update(train_state=TrainState.COMPLETED)
    expire_lease({"claimed_by": "dead"})

    assert reap() == ReapReport(failed=0, released=0, removed=1)

    assert state(run) == TrainState.COMPLETED
    assert not BackgroundJob.objects.exists()


def test_only_expired_claims_are_reaped_among_many() -> None:
    runs = enqueue_jobs(4)
    claim("dead", limit=2)
    claim("alive", limit=2)
    expire_lease({"claimed_by": "dead"})

    assert reap().failed == 2

    assert [state(r) for r in runs] == [
        TrainState.FAILED,
        TrainState.FAILED,
        TrainState.IN_PROGRESS,
        TrainState.IN_PROGRESS,
    ]
    assert set(BackgroundJob.objects.values_list("claimed_by", flat=True)) == {"alive"}


def test_per_worker_recovery_takes_back_every_claim_of_that_worker_whatever_its_lease() -> None:
    mine_started, mine_unstarted, theirs = enqueue_jobs(3)
    claim("me", limit=1, lease=3600)
    claimed_but_unstarted(mine_unstarted, "me", expires_in=3600)
    claim("them", limit=1, lease=1)
    expire_lease({"claimed_by": "them"})

    report = reap(worker_id="me")

    assert report == ReapReport(failed=1, released=1, removed=0)
    assert state(mine_started) == TrainState.FAILED
    assert state(mine_unstarted) == TrainState.PENDING
    assert BackgroundJob.objects.get(metadata=mine_unstarted).claimed_by is None
    # Another worker's claims are not touched, even with an expired lease.
    assert state(theirs) == TrainState.IN_PROGRESS
    assert BackgroundJob.objects.get(metadata=theirs).claimed_by == "them"


def manager_cycle(now: Any, lease: float = 10.0) -> Cycle:
    return Cycle(now=now, config=ManagerConfig(lease_seconds=lease), using="default")


def worker_row(worker_id: str, heartbeat: Any) -> Worker:
    return Worker.objects.create(
        worker_id=worker_id,
        host="h",
        pid=1,
        kind=WorkerKind.WORKER,
        started_at=heartbeat,
        last_heartbeat_at=heartbeat,
    )


def test_the_manager_step_reaps_leases_and_prunes_workers_silent_for_three_leases() -> None:
    now = database_now()
    lost, released = enqueue_jobs(2)
    claim("dead", limit=1)
    claimed_but_unstarted(released, "dead", expires_in=-1)
    expire_lease({"claimed_by": "dead"})
    worker_row("stale", now - seconds(31))
    worker_row("fresh", now - seconds(29))
    worker_row("dead", now - timedelta(hours=1))

    result = reap_expired_leases(manager_cycle(now, lease=10))

    assert result == ReapedLeases(worker_lost=1, released=1, stale_workers=2)
    assert list(Worker.objects.values_list("worker_id", flat=True)) == ["fresh"]
    assert state(lost) == TrainState.FAILED
    assert state(released) == TrainState.PENDING


def test_the_manager_step_uses_the_cycles_now_for_pruning() -> None:
    now = timezone.now()
    worker_row("w", now)
    assert reap_expired_leases(manager_cycle(now + seconds(29), lease=10)).stale_workers == 0
    assert reap_expired_leases(manager_cycle(now + seconds(31), lease=10)).stale_workers == 1


def run_before(statement: str, action: Callable[[], None]) -> Callable[..., Any]:
    """An execute wrapper that runs ``action`` once, just before the first statement
    starting with ``statement``."""
    done: list[bool] = []

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if not done and sql.lstrip().startswith(statement):
            done.append(True)
            action()
        return execute(sql, params, many, context)

    return wrapper


def test_a_lease_expiring_during_the_reap_never_orphans_an_in_progress_run() -> None:
    """Regression: each statement used to evaluate 'expired' with its own clock, so a lease
    expiring between the WorkerLost UPDATE and the DELETE lost its job row while its run stayed
    in_progress. The reaper now works from one snapshot of expired jobs."""
    (run,) = enqueue_jobs(1)
    claim("slow-to-die", lease=1.0)
    lease = BackgroundJob.objects.get(metadata=run).lease_expires_at
    assert lease is not None

    def until_the_lease_has_expired() -> None:
        deadline = time.monotonic() + 10
        while database_now() <= lease:  # the database clock moves on between statements
            assert time.monotonic() < deadline
            time.sleep(0.02)

    with connection.execute_wrapper(
        run_before("DELETE FROM trax_background_job", until_the_lease_has_expired)
    ):
        reap()

    has_job = BackgroundJob.objects.filter(metadata=run).exists()
    assert state(run) != TrainState.IN_PROGRESS or has_job, "in_progress with no claim left"
