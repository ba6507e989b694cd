"""The whole manager cycle (``run_manager_cycle``): its report, its silence when idle, its
failure record; and the success a manifest's run records for the cycle to act on."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime

import pytest
from django.db import OperationalError

import trax
from trax.conf import get_settings
from trax.effects.from_settings import default_service
from trax.manager import cycle as cycle_module
from trax.manager.config import ManagerConfig
from trax.manager.cycle import MANAGER_TRAIN_NAME, CycleReport, run_manager_cycle
from trax.manager.steps import cleanup, dead_letters, failure_streaks, retries, stale_runs
from trax.manager.steps.dependents import queue_dependents
from trax.models import (
    DeadLetter,
    DeadLetterStatus,
    Manifest,
    Metadata,
    TrainState,
    WorkQueue,
    WorkQueueStatus,
)
from trax.scheduling.declarations import ScheduleBuilder
from trax.scheduling.manifests import save_declarations

from .conftest import (
    FAILS,
    GREET,
    PERSON,
    claim,
    cycle_at,
    finished,
    hours,
    minutes,
    pending,
    queued,
    reload,
    running,
    seconds,
)

pytestmark = pytest.mark.django_db

DAY = 24 * 3600.0


def later(manifest: Manifest, now: datetime) -> Manifest:
    """Keep a manifest's own schedule out of the way."""
    Manifest.objects.filter(id=manifest.pk).update(next_run_at=now + hours(6))
    return reload(manifest)


def test_a_cycle_reports_what_each_step_did(clock: datetime, interval, failing) -> None:
    now = clock
    lost = running(started=now - minutes(2))
    claim(lost, lease_expires_at=now - minutes(1))  # its worker stopped renewing the lease
    unstarted = pending()
    claim(unstarted, lease_expires_at=now - minutes(1))
    timed_out = running(started=now - minutes(25))
    stale_pending = pending(created=now - minutes(30))
    stale_running = running(
        started=now - hours(2), cancellation_requested=True, cancel_reason="timeout"
    )
    to_retry = later(failing("retry-me", max_retries=3), now)
    failed_once = finished(to_retry, ended=now - minutes(1))
    to_dead_letter = later(failing("dead", max_retries=0), now)
    finished(to_dead_letter, ended=now - minutes(1))
    due_now = interval("due")
    Manifest.objects.filter(id=due_now.pk).update(next_run_at=now - seconds(10))
    skipped = interval("skipped", misfire_policy="do_nothing")
    Manifest.objects.filter(id=skipped.pk).update(next_run_at=now - hours(1))
    parent = later(interval("parent"), now)
    Manifest.objects.filter(id=parent.pk).update(last_successful_run=now - minutes(2))
    dependent = trax.scheduler.schedule_dependent("child", GREET, PERSON, depends_on="parent")
    ancient = finished(None, ended=now - hours(24 * 8), state=TrainState.COMPLETED)
    letter_owner = later(failing("old-letter"), now)
    resolved = DeadLetter.objects.create(
        manifest=letter_owner,
        reason="old",
        status=DeadLetterStatus.ACKNOWLEDGED,
        resolved_at=now - hours(24 * 40),
    )

    report = run_manager_cycle(
        now,
        config=ManagerConfig(metadata_retention_seconds=7 * DAY),
    )

    assert report == CycleReport(
        worker_lost=1,
        claims_released=1,
        timed_out=1,
        stale_pending=1,
        stale_in_progress=1,
        retries_queued=1,
        dead_lettered=1,
        occurrences_queued=1,
        misfires_skipped=1,
        dependents_queued=1,
        runs_deleted=1,
        dead_letters_purged=1,
        # The runs that ended before this cycle (those it failed itself fold next cycle).
        runs_folded=3,
    )
    assert report.did_anything()
    assert reload(lost).failure_exception == "WorkerLost"
    reload(unstarted)
    assert unstarted.train_state == TrainState.PENDING
    assert unstarted.background_job.claimed_by is None
    assert reload(timed_out).cancel_reason == "timeout"
    assert reload(stale_pending).failure_exception == "StalePending"
    assert reload(stale_running).failure_exception == "StaleInProgress"
    assert queued(to_retry)[0].retry_of_id == failed_once.pk
    assert DeadLetter.objects.filter(
        manifest=to_dead_letter, status=DeadLetterStatus.AWAITING_INTERVENTION
    ).exists()
    assert len(queued(due_now)) == 1 and queued(skipped) == []
    assert queued(dependent)[0].parent_success_stamp == now - minutes(2)
    assert not Metadata.objects.filter(id=ancient.pk).exists()
    assert not DeadLetter.objects.filter(id=resolved.pk).exists()
    assert not Metadata.objects.filter(name=MANAGER_TRAIN_NAME).exists()


def test_a_cycle_that_does_nothing_writes_no_run_record(clock: datetime, interval) -> None:
    later(interval("not-yet"), clock)
    finished(None, ended=clock - minutes(1), state=TrainState.COMPLETED)
    runs_before = Metadata.objects.count()

    report = run_manager_cycle(clock, config=ManagerConfig())

    nothing = CycleReport(**{field.name: 0 for field in fields(CycleReport)})
    assert report == replace(nothing, runs_folded=1)  # folding a run is bookkeeping, not news
    assert not report.did_anything()
    assert Metadata.objects.count() == runs_before
    assert queued() == []


def test_a_due_once_manifest_does_not_break_the_cycle(clock: datetime, interval) -> None:
    later(interval("not-due"), clock)
    once = trax.scheduler.schedule_once(GREET, PERSON, run_at=clock - seconds(5), external_id="o")

    report = run_manager_cycle(clock, config=ManagerConfig())

    assert report.occurrences_queued == 1
    assert reload(once).next_run_at is None
    assert not Metadata.objects.filter(name=MANAGER_TRAIN_NAME).exists()


def test_a_cycle_without_a_configuration_reads_settings_trax(clock: datetime, settings) -> None:
    settings.TRAX = {**settings.TRAX, "DEFAULT_JOB_TIMEOUT_SECONDS": 60}
    assert ManagerConfig.from_settings(get_settings()).default_job_timeout_seconds == 60
    run = running(started=clock - minutes(2))

    report = run_manager_cycle(clock)

    assert report.timed_out == 1
    assert reload(run).cancel_reason == "timeout"


def test_a_cycle_without_a_time_uses_the_database_clock(interval) -> None:
    interval("due-now")  # next_run_at is the wall clock when scheduled

    report = run_manager_cycle(config=ManagerConfig())

    assert report.occurrences_queued == 1


@pytest.mark.parametrize(
    ("module", "call", "junction"),
    [
        (stale_runs, "metadata_fail_stale_pending", "fail_stale_pending_runs"),
        (failure_streaks, "counted_failures", "load_failure_streaks"),
        (retries, "_origins", "queue_retries"),
        (dead_letters, "write_isolating", "create_dead_letters"),
        (cleanup, "dead_letter_purge_resolved", "clean_up"),
    ],
)
def test_a_failing_step_is_recorded_and_the_rest_of_the_cycle_still_runs(
    clock: datetime, monkeypatch: pytest.MonkeyPatch, interval, module, call: str, junction: str
) -> None:
    manifest = interval()
    Manifest.objects.filter(id=manifest.pk).update(next_run_at=clock - seconds(1))

    def broken(*args, **kwargs):
        raise RuntimeError("the store is broken")

    monkeypatch.setattr(module, call, broken)

    report = run_manager_cycle(clock, config=ManagerConfig())

    assert report.faults == 1
    assert report.occurrences_queued == 1, "the steps after the failing one did not run"
    record = Metadata.objects.get(name=MANAGER_TRAIN_NAME)
    assert record.train_state == TrainState.FAILED
    assert record.failure_junction == junction
    assert record.failure_exception == "RuntimeError"
    assert "the store is broken" in record.failure_reason
    assert record.stack_trace
    assert record.start_time is not None and record.end_time is not None


def test_a_step_failing_every_cycle_is_recorded_once_an_hour_not_every_cycle(
    clock: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("the store is broken")

    monkeypatch.setattr(stale_runs, "metadata_fail_stale_pending", broken)
    for _ in range(3):
        assert run_manager_cycle(clock, config=ManagerConfig()).faults == 1

    assert Metadata.objects.filter(name=MANAGER_TRAIN_NAME).count() == 1


def test_a_lost_connection_stops_the_cycle_instead_of_being_skipped(
    clock: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(stale_runs, "metadata_fail_stale_pending", gone)

    with pytest.raises(OperationalError):
        run_manager_cycle(clock, config=ManagerConfig())


def test_the_steps_run_in_the_documented_order() -> None:
    names = [getattr(j, "__name__", j) for j in cycle_module.ManagerCycle.junctions]

    assert names == [
        "reap_expired_leases",
        "cancel_timed_out_runs",
        "fail_stale_pending_runs",
        "fail_stale_in_progress_runs",
        "load_failure_streaks",
        "queue_retries",
        "create_dead_letters",
        "queue_due_manifests",
        "queue_dependents",
        "fold_rollups",
        "clean_up",
        "report",
    ]


def test_a_retry_queued_in_a_cycle_keeps_the_manifest_from_also_firing_its_occurrence(
    clock: datetime, failing
) -> None:
    manifest = failing(max_retries=3)
    Manifest.objects.filter(id=manifest.pk).update(next_run_at=clock - seconds(1))
    run = finished(manifest, ended=clock - minutes(1))

    report = run_manager_cycle(clock, config=ManagerConfig())

    assert (report.retries_queued, report.occurrences_queued) == (1, 0)
    [entry] = queued(manifest)
    assert entry.retry_of_id == run.pk


# ── recording a manifest's success ─────────────────────────────────────────────────────────


def execute(manifest: Manifest, name: str = GREET) -> Metadata:
    row = Metadata.objects.create(name=name, manifest=manifest, input={"name": "x"})
    default_service().execute(row.pk)
    return reload(row)


@pytest.mark.usefixtures("fresh_run_service")
def test_a_completed_manifest_run_stamps_last_successful_run_with_its_end_time(interval) -> None:
    manifest = interval()

    run = execute(manifest)

    assert run.train_state == TrainState.COMPLETED
    reload(manifest)
    assert manifest.last_successful_run == run.end_time
    assert manifest.is_enabled and not manifest.is_enabled_overridden


@pytest.mark.usefixtures("fresh_run_service")
def test_a_failed_manifest_run_does_not_stamp_a_success(clock: datetime) -> None:
    manifest = trax.scheduler.schedule("fails", FAILS, PERSON, trax.Every.minutes(5))

    run = execute(manifest, name=FAILS)

    assert run.train_state == TrainState.FAILED
    assert reload(manifest).last_successful_run is None


@pytest.mark.usefixtures("fresh_run_service")
def test_a_once_manifest_disables_itself_after_its_success_and_stays_disabled(
    clock: datetime,
) -> None:
    run_at = clock - minutes(1)
    manifest = trax.scheduler.schedule_once(GREET, PERSON, run_at=run_at, external_id="once")

    run = execute(manifest)

    reload(manifest)
    assert manifest.last_successful_run == run.end_time
    assert manifest.is_enabled is False
    assert manifest.is_enabled_overridden is True
    # A start-up sync of the same declaration keeps it disabled.
    builder = ScheduleBuilder().schedule_once("once", GREET, PERSON, run_at=run_at)
    save_declarations(builder.declarations, now=clock + hours(1), declared_in_code=True)
    assert reload(manifest).is_enabled is False


@pytest.mark.usefixtures("fresh_run_service")
def test_a_parent_runs_success_fires_its_dependent_with_that_success(
    clock: datetime, interval
) -> None:
    parent = interval("parent")
    dependent = trax.scheduler.schedule_dependent("child", GREET, PERSON, depends_on="parent")
    run_manager_cycle(parent.next_run_at, config=ManagerConfig())
    [entry] = queued(parent)
    WorkQueue.objects.filter(id=entry.pk).update(status=WorkQueueStatus.DISPATCHED)
    row = Metadata.objects.create(name=GREET, manifest=parent, input=entry.input, work_queue=entry)

    default_service().execute(row.pk)
    row.refresh_from_db()
    assert row.train_state == TrainState.COMPLETED

    result = queue_dependents(cycle_at(row.end_time + seconds(1)))
    assert result.queued == 1
    [child_entry] = queued(dependent)
    assert child_entry.parent_success_stamp == row.end_time
    assert reload(dependent).last_parent_success_seen == row.end_time
