"""Cancelling a run from another process reaches the worker running it within a second: the
cancel's NOTIFY wakes the worker's cancel watcher, which cancels the run's async task."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import trax
from tests.integration.conftest import (
    Children,
    dispatch_now,
    starts_of,
    wait_for,
    wait_until_worker_ready,
    work,
)
from trax.models import BackgroundJob, CancelReason, Metadata, TrainState

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("through_the_dispatcher"),
]

#: The watcher's periodic flag check is much slower than the bound, so only the notification
#: can deliver the cancel in time.
SETTINGS = {"CANCEL_CHECK_INTERVAL_SECONDS": 10}


def test_a_running_async_job_is_cancelled_from_another_process_within_a_second(
    children: Children, work_dir: Path
) -> None:
    trax.enqueue("it.async_sleep", work(work_dir, "nap", seconds=30))
    trax.enqueue("it.record", work(work_dir, "never"))
    assert dispatch_now() == 2
    # A run cancelled while pending is never started: the claim drops its job.
    (never,) = Metadata.objects.filter(name="it.record")
    assert trax.cancel_run(never.pk) == 1
    worker = children.worker("--concurrency", "2", settings=SETTINGS)
    wait_until_worker_ready(worker)
    (start,) = wait_for(lambda: starts_of(work_dir, "nap"), "the run to start")
    assert start.pid == worker.pid
    run = Metadata.objects.filter(id=start.run_id)

    assert trax.cancel_run(start.run_id) == 1
    returned = time.monotonic()
    wait_for(
        lambda: run.filter(train_state=TrainState.CANCELLED).exists(),
        "the run to be cancelled",
        limit=10,
    )
    took = time.monotonic() - returned

    print(f"the cancel reached the run {took * 1000:.0f} ms after cancel_run returned")
    assert took < 1.0, f"the cancel reached the run after {took:.2f} s"
    cancelled = run.get()
    assert cancelled.cancel_reason == CancelReason.OPERATOR
    assert cancelled.cancellation_requested
    assert not BackgroundJob.objects.exists()
    assert starts_of(work_dir, "never") == []
    never.refresh_from_db()
    assert (never.train_state, never.start_time) == (TrainState.CANCELLED, None)
    assert worker.alive()


def test_a_run_started_by_trax_run_stops_mid_junction_when_cancelled_elsewhere(
    children: Children,
) -> None:
    # demo.slow sleeps 200 steps of 0.1 s in ONE junction: only a watcher can stop it early.
    command = children.start(
        "trax_run", "demo.slow", "--input", '{"steps": 200, "seconds_per_step": 0.1}'
    )
    command.wait_output("of demo.slow started", limit=30)
    run = wait_for(
        lambda: (
            Metadata.objects.filter(name="demo.slow", train_state=TrainState.IN_PROGRESS)
            .values_list("id", flat=True)
            .first()
        ),
        "the run to be in progress",
    )
    assert f"run {run} (" in command.output()  # its id is said when it starts

    assert trax.cancel_run(run) == 1
    code = command.wait_exit(limit=5)

    assert code != 0 and "cancelled" in command.output()
    cancelled = Metadata.objects.get(id=run)
    assert cancelled.train_state == TrainState.CANCELLED
    assert cancelled.end_time is not None and cancelled.start_time is not None
    assert (cancelled.end_time - cancelled.start_time).total_seconds() < 15  # not all 20 s
