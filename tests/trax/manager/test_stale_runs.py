"""Steps fail_stale_pending_runs and fail_stale_in_progress_runs: runs nobody will finish are
failed, and only those — a job row or a live claim protects a run."""

from __future__ import annotations

from datetime import datetime

import pytest

from trax.manager.steps.stale_runs import fail_stale_in_progress_runs, fail_stale_pending_runs
from trax.models import BackgroundJob, Metadata, TrainState

from .conftest import claim, cycle_at, hours, minutes, pending, reload, running, seconds

pytestmark = pytest.mark.django_db


# ── stale pending ──────────────────────────────────────────────────────────────────────────


def test_a_pending_run_older_than_the_cutoff_with_no_job_is_failed_as_stale_pending(
    clock: datetime,
) -> None:
    run = pending(created=clock - minutes(21))

    result = fail_stale_pending_runs(cycle_at(clock, stale_pending_timeout_seconds=1200))

    assert result.failed == 1
    reload(run)
    assert run.train_state == TrainState.FAILED
    assert run.failure_exception == "StalePending"
    assert run.failure_reason
    assert run.end_time is not None


@pytest.mark.parametrize(
    ("age", "job", "failed"),
    [
        (minutes(19), None, False),  # too young
        (minutes(21), "unclaimed", False),  # a job row waits for a worker
        (minutes(21), "claimed", False),  # a worker holds it
        (minutes(21), "claim expired", False),  # still a job row: the reaper's business
        (hours(5), None, True),
    ],
)
def test_only_old_pending_runs_without_a_background_job_are_failed(
    clock: datetime, age, job: str | None, failed: bool
) -> None:
    run = pending(created=clock - age)
    if job == "unclaimed":
        BackgroundJob.objects.create(metadata=run)
    elif job == "claimed":
        claim(run, lease_expires_at=clock + seconds(30))
    elif job == "claim expired":
        claim(run, lease_expires_at=clock - minutes(10))

    result = fail_stale_pending_runs(cycle_at(clock, stale_pending_timeout_seconds=1200))

    assert result.failed == int(failed)
    assert reload(run).train_state == (TrainState.FAILED if failed else TrainState.PENDING)


def test_stale_pending_leaves_runs_in_other_states_alone(clock: datetime) -> None:
    started = running(started=clock - hours(5))
    Metadata.objects.filter(id=started.pk).update(created_at=clock - hours(5))

    result = fail_stale_pending_runs(cycle_at(clock))

    assert result.failed == 0
    assert reload(started).train_state == TrainState.IN_PROGRESS


# ── stale in progress ──────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("claim_state", "failed"),
    [
        ("no job row", True),
        ("lease expired", True),
        ("live lease", False),
    ],
)
def test_only_an_in_progress_run_with_no_live_claim_is_failed_past_the_backstop(
    clock: datetime, claim_state: str, failed: bool
) -> None:
    run = running(started=clock - hours(10))
    if claim_state == "lease expired":
        claim(run, lease_expires_at=clock - seconds(1))
    elif claim_state == "live lease":
        claim(run, lease_expires_at=clock + seconds(30))

    result = fail_stale_in_progress_runs(cycle_at(clock))

    assert result.failed == int(failed)
    reload(run)
    if failed:
        assert run.train_state == TrainState.FAILED
        assert run.failure_exception == "StaleInProgress"
        assert run.end_time is not None
    else:
        assert run.train_state == TrainState.IN_PROGRESS


def test_a_live_lease_protects_a_run_however_old(clock: datetime) -> None:
    run = running(started=clock - hours(24 * 30))
    claim(run, lease_expires_at=clock + seconds(1))

    assert fail_stale_in_progress_runs(cycle_at(clock)).failed == 0
    assert reload(run).train_state == TrainState.IN_PROGRESS


@pytest.mark.parametrize(
    ("timeout", "default", "threshold"),
    [
        (None, 1200.0, 3600),  # default timeout + grace (1230 s) < backstop: the backstop
        (None, None, 3600),  # no timeout at all: the backstop
        (None, 5000.0, 5030),  # a long default timeout + grace beats the backstop
        (7200, 1200.0, 7230),  # the manifest's timeout + grace beats the backstop
        (600, 5000.0, 3600),  # the manifest's short timeout beats a long default
    ],
)
def test_the_threshold_is_the_larger_of_the_backstop_and_the_timeout_plus_the_shutdown_grace(
    clock: datetime, interval, timeout: int | None, default: float | None, threshold: int
) -> None:
    manifest = interval(timeout=timeout) if timeout else None
    just_under = running(manifest, started=clock - seconds(threshold - 5))
    just_over = running(manifest, started=clock - seconds(threshold + 5))

    result = fail_stale_in_progress_runs(
        cycle_at(
            clock,
            stale_in_progress_backstop_seconds=3600,
            shutdown_timeout_seconds=30,
            default_job_timeout_seconds=default,
        )
    )

    assert result.failed == 1
    assert reload(just_under).train_state == TrainState.IN_PROGRESS
    assert reload(just_over).train_state == TrainState.FAILED


def test_a_stale_in_progress_run_flagged_for_cancellation_is_failed_too(clock: datetime) -> None:
    # The timeout step flagged it long ago; its executor is gone and never acknowledged.
    run = running(started=clock - hours(2), cancellation_requested=True, cancel_reason="timeout")

    assert fail_stale_in_progress_runs(cycle_at(clock)).failed == 1
    assert reload(run).train_state == TrainState.FAILED


def test_a_nested_child_of_a_run_with_a_live_claim_is_not_failed(clock: datetime) -> None:
    parent = running(started=clock - hours(3))
    claim(parent, lease_expires_at=clock + seconds(30))
    child = running(started=clock - hours(2), parent=parent)

    result = fail_stale_in_progress_runs(cycle_at(clock, default_job_timeout_seconds=None))

    assert result.failed == 0
    assert reload(child).train_state == TrainState.IN_PROGRESS
