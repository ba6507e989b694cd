"""Step cancel_timed_out_runs: in-progress runs past their timeout (the manifest's, else the
default) are flagged for cancellation with reason ``timeout``, children included."""

from __future__ import annotations

from datetime import datetime

import pytest

from trax.manager.steps.timeouts import cancel_timed_out_runs
from trax.models import CancelReason, TrainState

from .conftest import cycle_at, minutes, pending, reload, running, seconds

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("manifest_timeout", "running_for", "cancelled"),
    [
        (60, seconds(61), True),  # the manifest's short timeout beats the 20-minute default
        (60, seconds(59), False),
        (7200, minutes(30), False),  # the manifest's long timeout beats the default too
        (7200, minutes(121), True),
    ],
)
def test_a_manifest_timeout_beats_the_default(
    clock: datetime, interval, manifest_timeout: int, running_for, cancelled: bool
) -> None:
    manifest = interval(timeout=manifest_timeout)
    run = running(manifest, started=clock - running_for)

    result = cancel_timed_out_runs(cycle_at(clock, default_job_timeout_seconds=1200))

    assert result.cancelled == int(cancelled)
    assert reload(run).cancellation_requested is cancelled


@pytest.mark.parametrize(("running_for", "cancelled"), [(minutes(19), False), (minutes(21), True)])
def test_the_default_timeout_applies_to_one_off_runs(
    clock: datetime, running_for, cancelled: bool
) -> None:
    run = running(started=clock - running_for)

    result = cancel_timed_out_runs(cycle_at(clock, default_job_timeout_seconds=1200))

    assert result.cancelled == int(cancelled)
    assert reload(run).cancellation_requested is cancelled


def test_a_default_timeout_of_none_never_cancels_a_run_without_its_own(
    clock: datetime, interval
) -> None:
    one_off = running(started=clock - minutes(60 * 24 * 10))
    without_timeout = running(interval("no-timeout"), started=clock - minutes(60 * 24 * 10))
    with_timeout = running(interval("timeout", timeout=60), started=clock - minutes(2))

    result = cancel_timed_out_runs(cycle_at(clock, default_job_timeout_seconds=None))

    assert result.cancelled == 1
    assert not reload(one_off).cancellation_requested
    assert not reload(without_timeout).cancellation_requested
    assert reload(with_timeout).cancellation_requested


def test_a_timed_out_run_is_flagged_with_reason_timeout_and_keeps_running_until_it_stops(
    clock: datetime,
) -> None:
    run = running(started=clock - minutes(30))

    cancel_timed_out_runs(cycle_at(clock))

    reload(run)
    assert run.cancellation_requested
    assert run.cancel_reason == CancelReason.TIMEOUT
    assert run.train_state == TrainState.IN_PROGRESS  # its executor stops it at its next check


def test_an_already_flagged_run_is_not_counted_again(clock: datetime) -> None:
    run = running(started=clock - minutes(30))

    first = cancel_timed_out_runs(cycle_at(clock))
    second = cancel_timed_out_runs(cycle_at(clock + minutes(1)))

    assert (first.cancelled, second.cancelled) == (1, 0)
    assert reload(run).cancel_reason == CancelReason.TIMEOUT


def test_a_run_flagged_by_an_operator_is_not_counted_nor_relabelled(clock: datetime) -> None:
    run = running(
        started=clock - minutes(30), cancellation_requested=True, cancel_reason="operator"
    )

    result = cancel_timed_out_runs(cycle_at(clock))

    assert result.cancelled == 0
    assert reload(run).cancel_reason == CancelReason.OPERATOR


def test_the_children_of_a_timed_out_run_are_flagged_and_pending_ones_cancelled(
    clock: datetime, interval
) -> None:
    manifest = interval(timeout=60)
    parent = running(manifest, started=clock - minutes(5))
    child_running = running(started=clock - minutes(4), parent=parent)
    child_pending = pending(parent=parent)
    grandchild = pending(parent=child_running)

    result = cancel_timed_out_runs(cycle_at(clock))

    assert result.cancelled == 1
    assert reload(parent).cancel_reason == CancelReason.TIMEOUT
    reload(child_running)
    assert child_running.cancellation_requested
    assert child_running.cancel_reason == CancelReason.PARENT
    assert child_running.train_state == TrainState.IN_PROGRESS
    for row in (child_pending, grandchild):
        reload(row)
        assert row.train_state == TrainState.CANCELLED
        assert row.cancellation_requested and row.cancel_reason == CancelReason.PARENT
        assert row.end_time is not None


def test_finished_and_pending_runs_are_never_timed_out(clock: datetime) -> None:
    old_pending = pending(created=clock - minutes(120))
    done = running(started=clock - minutes(120))
    done.train_state = TrainState.COMPLETED
    done.end_time = clock - minutes(1)
    done.save()

    result = cancel_timed_out_runs(cycle_at(clock))

    assert result.cancelled == 0
    assert not reload(old_pending).cancellation_requested
    assert not reload(done).cancellation_requested


def test_a_child_of_a_manifest_run_is_governed_by_its_parents_timeout(
    clock: datetime, interval
) -> None:
    manifest = interval(timeout=7200)
    parent = running(manifest, started=clock - minutes(40))
    child = running(started=clock - minutes(30), parent=parent)

    result = cancel_timed_out_runs(cycle_at(clock, default_job_timeout_seconds=1200))

    assert result.cancelled == 0
    assert not reload(child).cancellation_requested
