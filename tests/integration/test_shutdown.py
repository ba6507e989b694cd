"""Graceful shutdown of a real worker process (reliability anchors §2.2): within the grace
period the run finishes; past it the run is cancelled with reason ``shutdown`` and queued again
as a new attempt of its lineage; a run deaf to its token is left to the reaper; a second signal
exits at once."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import pytest

import trax
from tests.integration.conftest import (
    Child,
    Children,
    dispatch_now,
    release,
    starts_of,
    wait_for,
    wait_until_worker_ready,
    work,
)
from trax.management.signals import FORCED_EXIT_CODE
from trax.models import (
    BackgroundJob,
    CancelReason,
    Metadata,
    TrainState,
    Worker,
    WorkQueue,
    WorkQueueStatus,
)
from trax.store.background_jobs.reaper import background_job_reap_expired

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("through_the_dispatcher"),
]


def start_one_run(
    children: Children, work_dir: Path, train: str, *args: str, concurrency: int = 1
) -> tuple[Child, uuid.UUID, int]:
    """A worker running one run of ``train``, waiting on its go file."""
    worker = children.worker("--concurrency", str(concurrency), *args)
    entry_id = trax.enqueue(train, work(work_dir, "only", seconds=30))
    assert dispatch_now() == 1
    wait_until_worker_ready(worker)
    (start,) = wait_for(lambda: starts_of(work_dir, "only"), "the run to start")
    assert start.pid == worker.pid
    return worker, entry_id, start.run_id


def test_a_run_that_ends_within_the_grace_period_completes_and_the_worker_exits_0(
    children: Children, work_dir: Path
) -> None:
    worker, _, run_id = start_one_run(
        children, work_dir, "it.block", "--shutdown-timeout", "30", concurrency=2
    )

    worker.send(signal.SIGTERM)
    worker.wait_output("Received SIGTERM")
    late = trax.enqueue("it.record", work(work_dir, "late"))
    assert dispatch_now() == 1
    assert worker.alive()
    assert Metadata.objects.get(id=run_id).train_state == TrainState.IN_PROGRESS
    release(work_dir, "only")

    assert worker.wait_exit(15) == 0
    run = Metadata.objects.get(id=run_id)
    assert run.train_state == TrainState.COMPLETED
    assert run.output == {"key": "only", "pid": worker.pid}
    assert "finished_in_grace=1, cancelled_for_shutdown=0, still_running=0" in worker.output()
    assert not Worker.objects.filter(pid=worker.pid).exists()
    # It stopped claiming at the signal: work that came later, with a run thread free, waits.
    late_run = Metadata.objects.get(work_queue__external_id=late)
    assert late_run.train_state == TrainState.PENDING
    assert BackgroundJob.objects.get().claimed_by is None
    assert starts_of(work_dir, "late") == []


def test_past_the_grace_period_the_run_is_cancelled_for_shutdown_and_queued_again(
    children: Children, work_dir: Path
) -> None:
    worker, entry_id, run_id = start_one_run(
        children, work_dir, "it.block", "--shutdown-timeout", "1"
    )

    signalled = time.monotonic()
    worker.send(signal.SIGTERM)
    assert worker.wait_exit(15) == 0
    took = time.monotonic() - signalled

    assert took < 1 + 4, f"the worker took {took:.1f} s to stop with a 1 s grace period"
    run = Metadata.objects.get(id=run_id)
    assert (run.train_state, run.cancel_reason) == (TrainState.CANCELLED, CancelReason.SHUTDOWN)
    first = WorkQueue.objects.get(external_id=entry_id)
    again = WorkQueue.objects.get(status=WorkQueueStatus.QUEUED)
    assert again.origin_id == first.pk  # same lineage: lookups and cancels by the id follow it
    assert again.attempt == first.attempt  # not a failure: the retry budget is untouched
    assert (again.train_name, again.input) == (first.train_name, first.input)
    assert "finished_in_grace=0, cancelled_for_shutdown=1, still_running=0" in worker.output()
    assert not Worker.objects.filter(pid=worker.pid).exists()
    assert not BackgroundJob.objects.exists()
    assert len(starts_of(work_dir, "only")) == 1


def test_a_second_signal_exits_at_once(children: Children, work_dir: Path) -> None:
    worker, _, run_id = start_one_run(children, work_dir, "it.block", "--shutdown-timeout", "30")

    worker.send(signal.SIGTERM)
    worker.wait_output("Received SIGTERM")
    signalled = time.monotonic()
    worker.send(signal.SIGTERM)

    assert worker.wait_exit(5) == FORCED_EXIT_CODE
    assert time.monotonic() - signalled < 2
    assert "exiting now" in worker.output()
    # Nothing was recorded on the way out: the lease will expire and the reaper takes over.
    assert Metadata.objects.get(id=run_id).train_state == TrainState.IN_PROGRESS


def test_a_run_deaf_to_its_token_is_left_to_the_reaper_and_the_worker_exits_1(
    children: Children, work_dir: Path
) -> None:
    worker, _, run_id = start_one_run(children, work_dir, "it.stubborn", "--shutdown-timeout", "1")

    worker.send(signal.SIGTERM)
    # Grace (1 s), then the cancelled runs get max(grace, 5 s) to stop, then the worker gives up.
    assert worker.wait_exit(1 + 5 + 3) == 1
    assert "1 run(s) did not stop" in worker.output()

    assert Metadata.objects.get(id=run_id).train_state == TrainState.IN_PROGRESS
    wait_for(
        lambda: background_job_reap_expired(using="trax").failed,
        "the run's lease to expire and the reaper to fail it",
        limit=10,
    )
    run = Metadata.objects.get(id=run_id)
    assert (run.train_state, run.failure_exception) == (TrainState.FAILED, "WorkerLost")
    assert not BackgroundJob.objects.exists()
