"""The dispatch step and the whole dispatcher cycle: the database submitter (one transaction
per batch), the inline submitter, per-train routing to user submitters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

import trax
from tests.trax.dispatch.factories import (
    FAILS,
    GREET,
    PERSON,
    SLOW,
    cycle_at,
    dispatch_all,
    manifest,
    seconds,
    user_runs,
)
from trax.dispatch.config import DispatcherConfig
from trax.dispatch.cycle import DispatchReport, run_dispatcher_cycle
from trax.dispatch.steps.capacity import apply_limits, load_capacity
from trax.dispatch.steps.dispatch import Dispatched, dispatch
from trax.dispatch.steps.load_queued import load_queued
from trax.dispatch.submitters import SubmitFailure
from trax.models import BackgroundJob, Metadata, TrainState, WorkQueue, WorkQueueStatus
from trax.store.work_entries.dispatch import DispatchedRun

pytestmark = pytest.mark.django_db

HERE = __name__


def selected_now(**config: Any) -> Any:
    config.setdefault("max_active_jobs", None)
    cycle = cycle_at(**config)
    queued = load_queued(cycle)
    return cycle, apply_limits(cycle, queued, load_capacity(cycle, queued))


class RecordingSubmitter:
    """Accepts everything and remembers what it was handed."""

    name = "recording"
    writes_background_jobs = False
    submitted: ClassVar[list[int]] = []

    def submit(self, runs: Sequence[DispatchedRun]) -> list[SubmitFailure]:
        type(self).submitted.extend(run.metadata_id for run in runs)
        return []


class NotASubmitter:
    """Takes no arguments, but has no ``submit``."""


class SameNameA:
    """Two user submitters that happen to share a ``name``."""

    name = "custom"
    writes_background_jobs = False
    submitted: ClassVar[list[int]] = []

    def submit(self, runs: Sequence[DispatchedRun]) -> list[SubmitFailure]:
        type(self).submitted.extend(run.metadata_id for run in runs)
        return []


class SameNameB(SameNameA):
    submitted: ClassVar[list[int]] = []


@pytest.fixture(autouse=True)
def _clear_recorders() -> None:
    for cls in (RecordingSubmitter, SameNameA, SameNameB):
        cls.submitted.clear()


def route(settings: Any, **extra: Any) -> None:
    settings.TRAX = {**settings.TRAX, **extra}


# ── the database submitter ──────────────────────────────────────────────────────────────────


def test_dispatch_writes_runs_entry_updates_and_jobs() -> None:
    m = manifest("dispatched", priority=6)
    trax.scheduler.trigger("dispatched")
    (one_off,) = trax.enqueue_many(SLOW, [{"steps": 1, "seconds_per_step": 0.0}], priority=11)
    cycle, selected = selected_now()

    result = dispatch(cycle, selected)

    assert result == Dispatched(runs=2, failed_submissions=0)
    for entry in WorkQueue.objects.all():
        assert entry.status == WorkQueueStatus.DISPATCHED
        assert entry.metadata_id is not None
        run = Metadata.objects.get(id=entry.metadata_id)
        assert entry.dispatched_at is not None
        assert entry.dispatched_at == run.created_at
        assert run.train_state == TrainState.PENDING
        assert run.work_queue_id == entry.pk
        assert run.name == entry.train_name
        assert run.input == entry.input
        assert run.manifest_id == entry.manifest_id
        assert run.attempt == entry.attempt
        assert run.scheduled_time == entry.scheduled_at
        assert run.start_time is None
        assert run.external_id != entry.external_id  # every run has its own id
        job = BackgroundJob.objects.get(metadata=run)
        assert job.priority == entry.priority
        assert job.attempt == entry.attempt
        assert job.claimed_by is None and job.claim_token is None
    assert WorkQueue.objects.get(manifest=m).metadata.manifest_id == m.pk  # type: ignore[union-attr]
    assert BackgroundJob.objects.get(metadata__name=SLOW).priority == 11
    assert WorkQueue.objects.get(external_id=one_off).metadata.name == SLOW  # type: ignore[union-attr]


def test_the_attempt_and_scheduled_time_of_the_entry_go_to_the_run() -> None:
    scheduled = timezone.now() - seconds(30)
    entry = WorkQueue.objects.create(
        train_name=GREET, input=PERSON, attempt=4, scheduled_at=scheduled, priority=3
    )
    cycle, selected = selected_now()
    dispatch(cycle, selected)
    run = Metadata.objects.get(work_queue=entry)
    assert (run.attempt, run.scheduled_time) == (4, scheduled)
    assert BackgroundJob.objects.get(metadata=run).attempt == 4


def fail_job_inserts(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    """A database that refuses to write background jobs (whatever statement writes them)."""
    if "INSERT INTO" in sql and "trax_background_job" in sql:
        raise DatabaseError("disk full (simulated)")
    return execute(sql, params, many, context)


def test_a_failed_job_insert_rolls_back_the_runs_and_entry_updates() -> None:
    trax.enqueue_many(GREET, [PERSON] * 3)
    cycle, selected = selected_now()

    with connection.execute_wrapper(fail_job_inserts), pytest.raises(DatabaseError, match="disk"):
        dispatch(cycle, selected)

    assert WorkQueue.objects.filter(status=WorkQueueStatus.QUEUED).count() == 3
    assert not WorkQueue.objects.exclude(metadata=None).exists()
    assert not WorkQueue.objects.exclude(dispatched_at=None).exists()
    assert not Metadata.objects.exists()
    assert not BackgroundJob.objects.exists()


def test_a_failed_cycle_is_recorded_as_a_failed_housekeeping_run() -> None:
    # Every row refused: the database's fault, not a row's (see test_bad_rows for one row).
    trax.enqueue_many(GREET, [PERSON] * 3)

    with connection.execute_wrapper(fail_job_inserts), pytest.raises(DatabaseError):
        dispatch_all()

    record = Metadata.objects.get(name="trax.dispatcher_cycle")
    assert record.train_state == TrainState.FAILED
    assert record.failure_junction == "dispatch"
    assert not user_runs().exists()
    assert set(WorkQueue.objects.values_list("status", flat=True)) == {WorkQueueStatus.QUEUED}


def test_an_entry_already_dispatched_elsewhere_is_left_out() -> None:
    trax.enqueue_many(GREET, [PERSON] * 2)
    cycle, selected = selected_now()
    taken = selected.entries[0]
    WorkQueue.objects.filter(id=taken.id).update(status=WorkQueueStatus.DISPATCHED)

    result = dispatch(cycle, selected)

    assert result.runs == 1
    assert Metadata.objects.count() == 1
    assert not Metadata.objects.filter(work_queue_id=taken.id).exists()


def test_run_dispatcher_cycle_end_to_end_reports_what_it_did() -> None:
    trax.enqueue_many(GREET, [PERSON] * 4)
    trax.enqueue(GREET, PERSON, run_at=timezone.now() + seconds(3600))

    report = run_dispatcher_cycle(
        timezone.now(), config=DispatcherConfig(max_active_jobs=3), using="default"
    )

    assert report == DispatchReport(
        candidates=4, dispatched=3, failed_submissions=0, global_cap_reached=True, full_batch=False
    )
    assert Metadata.objects.filter(train_state=TrainState.PENDING).count() == 3
    assert BackgroundJob.objects.count() == 3
    assert WorkQueue.objects.filter(status=WorkQueueStatus.QUEUED).count() == 2
    # The cycle writes no run record of its own when it succeeds.
    assert not Metadata.objects.filter(name__startswith="trax.").exists()

    again = run_dispatcher_cycle(
        timezone.now(), config=DispatcherConfig(max_active_jobs=3), using="default"
    )
    assert again == DispatchReport(
        candidates=1, dispatched=0, failed_submissions=0, global_cap_reached=True, full_batch=False
    )


def test_run_dispatcher_cycle_reads_its_configuration_from_settings(settings: Any) -> None:
    route(settings, MAX_ACTIVE_JOBS=2, DISPATCH_BATCH_SIZE=5)
    trax.enqueue_many(GREET, [PERSON] * 7)

    report = run_dispatcher_cycle(using="default")

    # A full batch of candidates tells the service more may be waiting.
    assert report == DispatchReport(
        candidates=5, dispatched=2, failed_submissions=0, global_cap_reached=True, full_batch=True
    )


def test_group_caps_hold_across_cycles() -> None:
    group = trax.Group("capped-cycles", max_active_jobs=2, priority=5)
    for i in range(4):
        manifest(f"capped-{i}", group=group)
        trax.scheduler.trigger(f"capped-{i}")
    trax.enqueue(GREET, PERSON)

    first = dispatch_all()
    second = dispatch_all()

    assert (first.dispatched, second.dispatched) == (3, 0)
    assert Metadata.objects.filter(manifest__group__name="capped-cycles").count() == 2
    assert Metadata.objects.filter(manifest=None).count() == 1
    Metadata.objects.filter(manifest__group__name="capped-cycles").update(
        train_state=TrainState.COMPLETED
    )
    assert dispatch_all().dispatched == 2


# ── the inline submitter ────────────────────────────────────────────────────────────────────


def test_the_inline_submitter_runs_the_train_at_once(settings: Any) -> None:
    route(settings, SUBMITTER="inline")
    ext = trax.enqueue(GREET, PERSON)

    report = dispatch_all()

    assert report.dispatched == 1 and report.failed_submissions == 0
    run = Metadata.objects.get(work_queue__external_id=ext)
    assert run.train_state == TrainState.COMPLETED
    assert run.output == {"greeting": "HELLO, ADA!", "signed_by": "the Ada fan club"}
    assert not BackgroundJob.objects.exists()
    assert WorkQueue.objects.get(external_id=ext).status == WorkQueueStatus.DISPATCHED


def test_the_inline_submitter_records_a_failing_train_as_failed(settings: Any) -> None:
    route(settings, SUBMITTER="inline")
    trax.enqueue(FAILS, PERSON)

    report = dispatch_all()

    assert report.failed_submissions == 0  # the run failed, not its submission
    run = Metadata.objects.get(name=FAILS)
    assert run.train_state == TrainState.FAILED
    assert run.failure_exception == "PaymentDeclined"


# ── routing ─────────────────────────────────────────────────────────────────────────────────


def test_trains_are_routed_to_their_submitters(settings: Any) -> None:
    route(
        settings,
        SUBMITTER_ROUTES={GREET: f"{HERE}.RecordingSubmitter", FAILS: "inline"},
    )
    trax.enqueue(GREET, PERSON)
    trax.enqueue(FAILS, PERSON)
    trax.enqueue(SLOW, {"steps": 1, "seconds_per_step": 0.0})

    report = dispatch_all()

    assert report.dispatched == 3
    greet = Metadata.objects.get(name=GREET)
    fails = Metadata.objects.get(name=FAILS)
    slow = Metadata.objects.get(name=SLOW)
    assert RecordingSubmitter.submitted == [greet.pk]
    assert greet.train_state == TrainState.PENDING  # handed over, committed, no job row
    assert not BackgroundJob.objects.filter(metadata=greet).exists()
    assert fails.train_state == TrainState.FAILED  # run inline at once
    assert not BackgroundJob.objects.filter(metadata=fails).exists()
    assert slow.train_state == TrainState.PENDING  # the default: a background job
    assert BackgroundJob.objects.filter(metadata=slow).exists()


def test_an_unknown_submitter_path_is_a_clear_error(settings: Any) -> None:
    route(settings, SUBMITTER_ROUTES={GREET: f"{HERE}.NoSuchSubmitter"})
    trax.enqueue(GREET, PERSON)
    with pytest.raises(ImportError, match="NoSuchSubmitter"):
        dispatch_all()
    assert WorkQueue.objects.get().status == WorkQueueStatus.QUEUED


def test_a_class_that_is_not_a_submitter_is_refused(settings: Any) -> None:
    route(settings, SUBMITTER_ROUTES={GREET: f"{HERE}.NotASubmitter"})
    trax.enqueue(GREET, PERSON)
    with pytest.raises(TypeError, match="is not a job submitter"):
        dispatch_all()


def test_two_submitters_with_the_same_name_each_get_their_own_trains(settings: Any) -> None:
    route(settings, SUBMITTER_ROUTES={GREET: f"{HERE}.SameNameA", SLOW: f"{HERE}.SameNameB"})
    trax.enqueue(GREET, PERSON)
    trax.enqueue(SLOW, {"steps": 1, "seconds_per_step": 0.0})

    dispatch_all()

    assert SameNameA.submitted == [Metadata.objects.get(name=GREET).pk]
    assert SameNameB.submitted == [Metadata.objects.get(name=SLOW).pk]


def test_a_changed_submitter_setting_takes_effect(settings: Any) -> None:
    trax.enqueue(GREET, PERSON)
    dispatch_all()  # builds the router from the current settings (database submitter)
    route(settings, SUBMITTER="inline")
    ext = trax.enqueue(GREET, PERSON)

    dispatch_all()

    run = Metadata.objects.get(work_queue__external_id=ext)
    assert run.train_state == TrainState.COMPLETED
    assert not BackgroundJob.objects.filter(metadata=run).exists()


# ── the dispatcher service ──────────────────────────────────────────────────────────────────


def test_the_dispatcher_service_dispatches_only_while_leading() -> None:
    from trax.dispatch.service import DispatcherService

    leading = [False]
    service = DispatcherService(
        polling_interval=1.0,
        is_leader=lambda: leading[0],
        config=DispatcherConfig(max_active_jobs=None),
        using="default",
    )
    trax.enqueue_many(GREET, [PERSON] * 2)
    try:
        assert service.run_once() is None
        assert WorkQueue.objects.filter(status=WorkQueueStatus.QUEUED).count() == 2
        leading[0] = True
        report = service.run_once()
        assert report is not None and report.dispatched == 2
    finally:
        service.listener.close()
