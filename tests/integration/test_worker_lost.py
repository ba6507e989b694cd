"""A worker SIGKILLed mid-run (reliability anchors §2.1): its run stays in progress until the
lease expires, the leader's reaper fails it as ``WorkerLost``, the retry rules queue it again
and another worker completes it; at most two starts, one success."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

import trax
from tests.integration.conftest import (
    START_LIMIT,
    Children,
    dispatch_now,
    release,
    starts_of,
    wait_for,
    wait_until_leading,
    wait_until_worker_ready,
    work,
)
from trax.models import (
    BackgroundJob,
    DeadLetter,
    Manifest,
    Metadata,
    TrainState,
    Worker,
    WorkQueue,
)
from trax.store import database_now
from trax.store.background_jobs.reaper import WORKER_LOST_REASON
from trax.workers.identity import WorkerNameInUse, recover_named_worker, worker_id_for

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("through_the_dispatcher"),
]


@pytest.mark.usefixtures("quiet_demo_schedules")
def test_a_killed_workers_run_fails_as_worker_lost_and_is_retried_to_success(
    children: Children, work_dir: Path
) -> None:
    scheduler = children.dispatcher()
    doomed = children.worker("--concurrency", "1", name="doomed")
    trax.scheduler.schedule(
        "it-killed",
        "it.block",
        work(work_dir, "k"),
        trax.Every.hours(1),
        max_retries=1,
        retry_delay=0,
    )
    # Only the trigger below runs it: its first interval occurrence is an hour away.
    Manifest.objects.filter(external_id="it-killed").update(
        next_run_at=timezone.now() + timedelta(hours=1)
    )
    wait_until_worker_ready(doomed)
    wait_until_leading(scheduler)
    trax.scheduler.trigger("it-killed")

    (first,) = wait_for(lambda: starts_of(work_dir, "k"), "the first attempt to start")
    assert first.pid == doomed.pid
    survivor = children.worker("--concurrency", "1", name="survivor")
    job = BackgroundJob.objects.get(metadata_id=first.run_id)
    assert job.claimed_by is not None and str(doomed.pid) in job.claimed_by

    leased_until = BackgroundJob.objects.get(metadata_id=first.run_id).lease_expires_at
    doomed.kill()

    lost = wait_for(
        lambda: Metadata.objects.filter(id=first.run_id, train_state=TrainState.FAILED).first(),
        "the reaper to fail the first attempt",
    )
    assert (lost.failure_exception, lost.failure_reason) == ("WorkerLost", WORKER_LOST_REASON)
    assert lost.end_time > leased_until, "failed before its lease expired"
    assert not BackgroundJob.objects.filter(claimed_by=job.claimed_by).exists()

    wait_until_worker_ready(survivor)
    _, second = wait_for(
        lambda: starts_of(work_dir, "k")[1:2] and starts_of(work_dir, "k"),
        "the retry to start on the surviving worker",
    )
    assert second.pid == survivor.pid
    release(work_dir, "k")
    done = wait_for(
        lambda: Metadata.objects.filter(id=second.run_id, train_state=TrainState.COMPLETED).first(),
        "the retry to complete",
    )

    manifest = Manifest.objects.get(external_id="it-killed")
    runs = list(Metadata.objects.filter(manifest=manifest).order_by("id"))
    assert [(r.id, r.train_state) for r in runs] == [
        (first.run_id, TrainState.FAILED),
        (second.run_id, TrainState.COMPLETED),
    ]
    assert done.attempt == 2
    retry_entry = WorkQueue.objects.get(metadata_id=second.run_id)
    assert retry_entry.retry_of_id == first.run_id
    assert retry_entry.origin_id == WorkQueue.objects.get(metadata_id=first.run_id).pk
    assert manifest.last_successful_run == done.end_time
    assert len(starts_of(work_dir, "k")) == 2  # at most two starts, exactly one success
    assert not BackgroundJob.objects.exists()
    assert not DeadLetter.objects.exists()
    assert scheduler.alive() and survivor.alive()
    assert doomed.popen.returncode == -signal.SIGKILL


def test_a_named_worker_restarted_after_a_crash_recovers_its_runs_at_once(
    children: Children, work_dir: Path
) -> None:
    """No scheduler runs here, so no reaper: the restarted ``--name`` itself takes back its
    previous life's run; while that life was alive, the name was refused."""
    first = children.worker("--concurrency", "1", "--name", "it-named", name="first-life")
    trax.enqueue("it.block", work(work_dir, "named"))
    assert dispatch_now() == 1
    wait_until_worker_ready(first)
    (start,) = wait_for(lambda: starts_of(work_dir, "named"), "the run to start")
    with pytest.raises(WorkerNameInUse, match="is alive"):  # what trax_worker --name checks
        recover_named_worker(worker_id_for("it-named"), lease_seconds=1, using="trax")
    assert Metadata.objects.get(id=start.run_id).train_state == TrainState.IN_PROGRESS

    first.kill()
    row = Worker.objects.get(pid=first.pid)
    wait_for(
        lambda: Worker.objects.filter(
            pk=row.pk, last_heartbeat_at__lt=database_now() - timedelta(seconds=1)
        ).exists(),
        "the first life's heartbeat to go stale (one lease)",
    )
    second = children.worker("--concurrency", "1", "--name", "it-named", name="second-life")
    second.wait_output("1 run(s) failed as WorkerLost", limit=START_LIMIT)

    lost = Metadata.objects.get(id=start.run_id)
    assert (lost.train_state, lost.failure_exception) == (TrainState.FAILED, "WorkerLost")
    assert not BackgroundJob.objects.exists()
    wait_until_worker_ready(second)
    assert Worker.objects.get(worker_id=row.worker_id).pid == second.pid
