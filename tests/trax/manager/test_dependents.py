"""Step queue_dependents: a dependent is queued when its parent's last success is newer than
the success it last acted on; the stamp moves with the queueing, so no success is lost."""

from __future__ import annotations

from datetime import datetime

import pytest

import trax
from trax.manager.steps.dependents import queue_dependents
from trax.models import DeadLetter, Manifest, ManifestGroup, Metadata, TrainState, WorkQueue

from .conftest import (
    GREET,
    PERSON,
    cycle_at,
    dispatch,
    hours,
    minutes,
    pending,
    queued,
    reload,
    running,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def parent(clock: datetime, interval) -> Manifest:
    manifest = interval("parent")
    # Keep the parent itself out of the way: only its successes matter here.
    Manifest.objects.filter(id=manifest.pk).update(next_run_at=clock + hours(1))
    return reload(manifest)


def child(*, priority: int = 0, **options) -> Manifest:
    return trax.scheduler.schedule_dependent(
        "child", GREET, {"name": "child"}, depends_on="parent", priority=priority, **options
    )


def parent_succeeded(parent: Manifest, at: datetime) -> None:
    Manifest.objects.filter(id=parent.pk).update(last_successful_run=at)


def test_a_dependent_is_queued_after_its_parent_succeeds_and_records_that_success(
    clock: datetime, parent: Manifest
) -> None:
    dependent = child()
    success = clock - minutes(1)
    parent_succeeded(parent, success)

    result = queue_dependents(cycle_at(clock))

    assert result.queued == 1
    [entry] = queued(dependent)
    assert entry.parent_success_stamp == success
    assert entry.scheduled_at == clock
    assert (entry.train_name, entry.input) == (GREET, {"name": "child"})
    assert reload(dependent).last_parent_success_seen == success


def test_a_dependent_waits_while_its_parent_has_never_succeeded(
    clock: datetime, parent: Manifest
) -> None:
    dependent = child()

    assert queue_dependents(cycle_at(clock)).queued == 0
    assert queued(dependent) == []


@pytest.mark.parametrize(("priority", "boosted"), [(0, 16), (10, 26), (15, 31), (20, 31), (31, 31)])
def test_a_dependent_entry_gets_the_priority_boost_clamped_to_31(
    clock: datetime, parent: Manifest, priority: int, boosted: int
) -> None:
    dependent = child(priority=priority)
    parent_succeeded(parent, clock - minutes(1))

    queue_dependents(cycle_at(clock))

    assert queued(dependent)[0].priority == boosted


def test_the_boost_comes_from_the_cycle_configuration(clock: datetime, parent: Manifest) -> None:
    dependent = child(priority=5)
    parent_succeeded(parent, clock - minutes(1))

    queue_dependents(cycle_at(clock, dependent_priority_boost=0))

    assert queued(dependent)[0].priority == 5


def test_a_dependent_fires_once_per_parent_success(clock: datetime, parent: Manifest) -> None:
    dependent = child()
    first_success = clock - minutes(10)
    parent_succeeded(parent, first_success)

    assert queue_dependents(cycle_at(clock)).queued == 1
    dispatch(queued(dependent)[0])
    assert queue_dependents(cycle_at(clock + minutes(1))).queued == 0  # same success
    assert queue_dependents(cycle_at(clock + minutes(2))).queued == 0

    second_success = clock + minutes(3)
    parent_succeeded(parent, second_success)
    assert queue_dependents(cycle_at(clock + minutes(4))).queued == 1
    assert queued(dependent)[0].parent_success_stamp == second_success
    assert WorkQueue.objects.filter(manifest=dependent).count() == 2


def test_a_parent_success_landing_while_the_child_runs_is_not_lost(
    clock: datetime, parent: Manifest
) -> None:
    dependent = child()
    parent_succeeded(parent, clock - minutes(10))
    queue_dependents(cycle_at(clock))
    entry = dispatch(queued(dependent)[0])
    child_run = running(dependent, started=clock + minutes(1), name=GREET, work_queue=entry)

    later_success = clock + minutes(2)
    parent_succeeded(parent, later_success)
    while_running = queue_dependents(cycle_at(clock + minutes(3)))

    assert while_running.queued == 0
    assert reload(dependent).last_parent_success_seen == clock - minutes(10)

    Metadata.objects.filter(id=child_run.pk).update(
        train_state=TrainState.COMPLETED, end_time=clock + minutes(4)
    )
    after = queue_dependents(cycle_at(clock + minutes(5)))

    assert after.queued == 1
    assert queued(dependent)[0].parent_success_stamp == later_success
    assert reload(dependent).last_parent_success_seen == later_success


def test_two_parent_successes_while_the_child_is_queued_fire_it_once_more_with_the_latest(
    clock: datetime, parent: Manifest
) -> None:
    dependent = child()
    parent_succeeded(parent, clock - minutes(10))
    queue_dependents(cycle_at(clock))
    parent_succeeded(parent, clock + minutes(1))
    parent_succeeded(parent, clock + minutes(2))

    assert queue_dependents(cycle_at(clock + minutes(3))).queued == 0  # still queued
    dispatch(queued(dependent)[0])
    assert queue_dependents(cycle_at(clock + minutes(4))).queued == 1
    assert queued(dependent)[0].parent_success_stamp == clock + minutes(2)


def test_a_dormant_dependent_never_fires_by_itself(clock: datetime, parent: Manifest) -> None:
    dormant = child(dormant=True)
    parent_succeeded(parent, clock - minutes(1))

    assert queue_dependents(cycle_at(clock)).queued == 0
    assert queued(dormant) == []
    assert reload(dormant).last_parent_success_seen is None


def test_each_dependent_of_a_parent_fires(clock: datetime, parent: Manifest) -> None:
    first = trax.scheduler.schedule_dependent("a", GREET, PERSON, depends_on="parent")
    second = trax.scheduler.schedule_dependent("b", GREET, PERSON, depends_on="parent")
    parent_succeeded(parent, clock - minutes(1))

    assert queue_dependents(cycle_at(clock)).queued == 2
    assert len(queued(first)) == len(queued(second)) == 1


# ── guards ─────────────────────────────────────────────────────────────────────────────────


def _disabled(dependent: Manifest, now: datetime) -> None:
    trax.scheduler.disable(dependent.external_id)


def _group_disabled(dependent: Manifest, now: datetime) -> None:
    ManifestGroup.objects.filter(id=dependent.group_id).update(is_enabled=False)


def _awaiting_dead_letter(dependent: Manifest, now: datetime) -> None:
    DeadLetter.objects.create(manifest=dependent, reason="retries exhausted")


def _something_queued(dependent: Manifest, now: datetime) -> None:
    trax.scheduler.trigger(dependent.external_id, delay=3600)


def _pending_run(dependent: Manifest, now: datetime) -> None:
    pending(dependent)


def _in_progress_run(dependent: Manifest, now: datetime) -> None:
    running(dependent, started=now - minutes(1), name=GREET)


GUARDS = {
    "disabled manifest": _disabled,
    "disabled group": _group_disabled,
    "awaiting dead letter": _awaiting_dead_letter,
    "something queued": _something_queued,
    "a pending run": _pending_run,
    "a run in progress": _in_progress_run,
}


@pytest.mark.parametrize("guard", list(GUARDS))
def test_each_guard_keeps_a_ready_dependent_from_firing_without_consuming_the_success(
    clock: datetime, parent: Manifest, guard: str
) -> None:
    dependent = child()
    parent_succeeded(parent, clock - minutes(1))
    GUARDS[guard](dependent, clock)
    entries_before = list(WorkQueue.objects.values_list("id", flat=True))

    result = queue_dependents(cycle_at(clock))

    assert result.queued == 0
    assert list(WorkQueue.objects.values_list("id", flat=True)) == entries_before
    assert reload(dependent).last_parent_success_seen is None
