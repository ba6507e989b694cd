"""External (user) submitters: runs are committed first, then submitted; a failed submission
fails the run as ``DispatchFailed`` and requeues the entry (same lineage, dispatch_attempts + 1)
until max dispatch attempts; only the final failure counts toward retries."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest
from django.db import connections, transaction
from django.utils import timezone

import trax
from tests.trax.dispatch.factories import (
    GREET,
    PERSON,
    dispatch_all,
    manifest,
    user_runs,
    wait_until,
)
from tests.trax.sessions import idle_pool_members
from trax.dispatch.config import DispatcherConfig
from trax.dispatch.cycle import run_dispatcher_cycle
from trax.dispatch.submitters import SubmitFailure
from trax.manager.config import ManagerConfig
from trax.manager.context import Cycle
from trax.manager.steps.failure_streaks import load_failure_streaks
from trax.models import BackgroundJob, Metadata, TrainState, WorkQueue, WorkQueueStatus
from trax.store.work_entries.dispatch import DispatchedRun

HERE = __name__


class FailingSubmitter:
    """Refuses every run it is handed."""

    name = "failing"
    writes_background_jobs = False
    calls: ClassVar[list[list[int]]] = []

    def submit(self, runs: Sequence[DispatchedRun]) -> list[SubmitFailure]:
        type(self).calls.append([run.metadata_id for run in runs])
        return [SubmitFailure(run, "refused by the test") for run in runs]


class RaisingSubmitter:
    """Raises instead of answering."""

    name = "raising"
    writes_background_jobs = False
    calls: ClassVar[list[list[int]]] = []

    def submit(self, runs: Sequence[DispatchedRun]) -> list[SubmitFailure]:
        type(self).calls.append([run.metadata_id for run in runs])
        raise RuntimeError("endpoint unreachable")


class HalfSubmitter:
    """Accepts runs of even id, refuses the others; checks each is committed before submit."""

    name = "half"
    writes_background_jobs = False
    committed: ClassVar[list[bool]] = []

    def submit(self, runs: Sequence[DispatchedRun]) -> list[SubmitFailure]:
        for run in runs:
            type(self).committed.append(self._visible_elsewhere(run.metadata_id))
        return [SubmitFailure(run, "odd") for run in runs if run.metadata_id % 2]

    @staticmethod
    def _visible_elsewhere(metadata_id: int) -> bool:
        """Whether another connection (another thread) sees the run: it was committed."""
        seen: list[bool] = []

        def look() -> None:
            try:
                seen.append(Metadata.objects.filter(id=metadata_id).exists())
            finally:
                connections.close_all()

        thread = threading.Thread(target=look)
        thread.start()
        thread.join(10)
        return seen == [True]


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    FailingSubmitter.calls.clear()
    RaisingSubmitter.calls.clear()
    HalfSubmitter.committed.clear()


def route_greet_to(settings: Any, submitter: str, **extra: Any) -> None:
    settings.TRAX = {
        **settings.TRAX,
        "SUBMITTER_ROUTES": {GREET: f"{HERE}.{submitter}"},
        **extra,
    }


def lineage() -> list[WorkQueue]:
    return list(WorkQueue.objects.order_by("id"))


@pytest.mark.django_db
def test_a_refused_submission_fails_the_run_and_requeues_the_entry(settings: Any) -> None:
    route_greet_to(settings, "FailingSubmitter")
    ext = trax.enqueue(GREET, PERSON, priority=7, max_retries=2)

    report = dispatch_all()

    assert report.dispatched == 1 and report.failed_submissions == 1
    first, again = lineage()
    run = Metadata.objects.get(work_queue=first)
    assert FailingSubmitter.calls == [[run.pk]]
    assert run.train_state == TrainState.FAILED
    assert run.failure_exception == "DispatchFailed"
    assert run.failure_reason == "refused by the test"
    assert run.end_time is not None
    assert first.external_id == ext and first.status == WorkQueueStatus.DISPATCHED
    assert again.status == WorkQueueStatus.QUEUED
    assert again.origin_id == first.pk
    assert again.retry_of_id == run.pk
    assert again.dispatch_attempts == 1
    assert (again.train_name, again.input, again.priority) == (GREET, PERSON, 7)
    assert (again.attempt, again.max_retries) == (first.attempt, 2)
    assert not BackgroundJob.objects.exists()


@pytest.mark.django_db
def test_requeues_stop_at_max_dispatch_attempts(settings: Any) -> None:
    route_greet_to(settings, "FailingSubmitter", MAX_DISPATCH_ATTEMPTS=3)
    trax.enqueue(GREET, PERSON)

    reports = [run_dispatcher_cycle(timezone.now(), using="default") for _ in range(4)]

    assert [r.failed_submissions for r in reports] == [1, 1, 1, 0]
    assert [r.dispatched for r in reports] == [1, 1, 1, 0]
    entries = lineage()
    runs = [Metadata.objects.get(work_queue=entry) for entry in entries]
    assert [e.dispatch_attempts for e in entries] == [0, 1, 2]
    assert all(e.status == WorkQueueStatus.DISPATCHED for e in entries)
    assert {e.origin_id for e in entries[1:]} == {entries[0].pk}
    assert [e.retry_of_id for e in entries] == [None, runs[0].pk, runs[1].pk]
    assert all(r.failure_exception == "DispatchFailed" for r in runs)
    assert not WorkQueue.objects.filter(retry_of=runs[-1]).exists()


@pytest.mark.django_db
def test_the_default_is_five_dispatch_attempts(settings: Any) -> None:
    route_greet_to(settings, "FailingSubmitter")
    trax.enqueue(GREET, PERSON)
    for _ in range(7):
        dispatch_all()
    assert len(FailingSubmitter.calls) == 5
    assert user_runs().filter(failure_exception="DispatchFailed").count() == 5


@pytest.mark.django_db
def test_only_the_final_dispatch_failure_counts_toward_retries(settings: Any) -> None:
    route_greet_to(settings, "FailingSubmitter")
    m = manifest("never-dispatched", max_retries=3)
    trax.scheduler.trigger("never-dispatched")

    def streaks() -> list[Any]:
        cycle = Cycle(now=timezone.now(), config=ManagerConfig(), using="default")
        return [s for s in load_failure_streaks(cycle).streaks if s.manifest_id == m.pk]

    config = DispatcherConfig(max_active_jobs=None, max_dispatch_attempts=3)
    for _ in range(2):
        run_dispatcher_cycle(timezone.now(), config=config, using="default")
        assert streaks() == []  # requeued by the dispatcher: not a failure yet
    run_dispatcher_cycle(timezone.now(), config=config, using="default")

    (streak,) = streaks()
    final = Metadata.objects.filter(manifest=m).order_by("-id").first()
    assert Metadata.objects.filter(manifest=m, failure_exception="DispatchFailed").count() == 3
    assert streak.failures == 1
    assert final is not None and streak.latest_run_id == final.pk
    assert streak.latest_exception == "DispatchFailed"
    assert not streak.latest_retried


@pytest.mark.django_db
def test_accepted_and_refused_runs_of_one_batch_are_told_apart(settings: Any) -> None:
    route_greet_to(settings, "HalfSubmitter")
    trax.enqueue_many(GREET, [PERSON] * 4)

    report = dispatch_all(max_concurrent_dispatch=1)

    runs = list(user_runs().order_by("id"))
    odd = [r for r in runs if r.pk % 2]
    even = [r for r in runs if not r.pk % 2]
    assert report.dispatched == 4 and report.failed_submissions == len(odd)
    assert all(r.train_state == TrainState.FAILED for r in odd)
    assert all(r.train_state == TrainState.PENDING for r in even)
    assert WorkQueue.objects.filter(status=WorkQueueStatus.QUEUED).count() == len(odd)


@pytest.mark.django_db(transaction=True)
def test_external_submitters_see_committed_runs(settings: Any) -> None:
    route_greet_to(settings, "HalfSubmitter")
    trax.enqueue_many(GREET, [PERSON] * 3)

    dispatch_all(max_concurrent_dispatch=2)

    assert HalfSubmitter.committed == [True, True, True]


@pytest.mark.django_db(transaction=True)
def test_a_raising_submitter_fails_all_its_runs_the_same_way(settings: Any) -> None:
    route_greet_to(settings, "RaisingSubmitter")
    trax.enqueue_many(GREET, [PERSON] * 3)

    report = dispatch_all()

    assert report.dispatched == 3 and report.failed_submissions == 3
    assert len(RaisingSubmitter.calls) == 1 and len(RaisingSubmitter.calls[0]) == 3
    runs = list(user_runs().order_by("id"))
    assert len(runs) == 3
    for run in runs:
        assert run.train_state == TrainState.FAILED
        assert run.failure_exception == "DispatchFailed"
        assert run.failure_reason == "RuntimeError: endpoint unreachable"
        again = WorkQueue.objects.get(retry_of=run)
        assert again.status == WorkQueueStatus.QUEUED and again.dispatch_attempts == 1
    # The dispatcher carries on: the requeued entries go out in the next cycle.
    assert dispatch_all().failed_submissions == 3


@pytest.mark.django_db(transaction=True)
def test_a_raising_submitter_with_parallel_dispatch_fails_every_run(settings: Any) -> None:
    route_greet_to(settings, "RaisingSubmitter")
    trax.enqueue_many(GREET, [PERSON] * 5)

    report = dispatch_all(max_concurrent_dispatch=3)

    assert report.failed_submissions == 5
    assert sorted(len(call) for call in RaisingSubmitter.calls) == [1, 2, 2]
    assert user_runs().filter(failure_exception="DispatchFailed").count() == 5
    assert WorkQueue.objects.filter(status=WorkQueueStatus.QUEUED).count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_raising_submitter_inside_a_transaction_does_not_break_it(settings: Any) -> None:
    route_greet_to(settings, "RaisingSubmitter")
    trax.enqueue(GREET, PERSON)

    with transaction.atomic():
        marker = trax.enqueue(GREET, PERSON, run_at=timezone.now().replace(year=2999))
        report = dispatch_all()

    assert report.failed_submissions == 1
    assert WorkQueue.objects.filter(external_id=marker).exists()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_parallel_submissions_leave_no_database_session_behind(settings: Any) -> None:
    import gc

    settings.TRAX = {**settings.TRAX, "SUBMITTER": "inline"}
    trax.enqueue_many(GREET, [PERSON] * 4)
    connections["trax"].close()  # this thread's own second session
    gc.disable()  # only an explicit close may end a session here
    try:
        dispatch_all(max_concurrent_dispatch=2)
        assert user_runs().filter(train_state=TrainState.COMPLETED).count() == 4

        def others() -> int:
            with connections["default"].cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                return int(cursor.fetchone()[0])

        # A closed session takes a moment to leave pg_stat_activity; a leaked one never does.
        # With a pool, the threads' connections went back to it: its other members remain.
        wait_until(
            lambda: others() == idle_pool_members(), timeout=3, what="no session outside the pool"
        )
    finally:
        gc.enable()
        gc.collect()
