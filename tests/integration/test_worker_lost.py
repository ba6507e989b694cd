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
    Children,
    release,
    starts_of,
    wait_for,
    wait_until_leading,
    wait_until_worker_ready,
    work,
)
from trax.models import BackgroundJob, DeadLetter, Manifest, Metadata, TrainState, WorkQueue
from trax.store.reaper import WORKER_LOST_REASON

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


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
