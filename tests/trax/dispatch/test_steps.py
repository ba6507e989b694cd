"""The dispatcher's first three steps on their own: load queued -> load capacity -> apply
limits, each with ``now`` injected."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

import trax
from tests.trax.dispatch.factories import (
    FAILS,
    GREET,
    PERSON,
    SLOW,
    cycle_at,
    manifest,
    queue_entry,
    seconds,
)
from trax.dispatch.steps.capacity import Capacity, apply_limits, load_capacity
from trax.dispatch.steps.load_queued import Candidate, QueuedWork, load_queued
from trax.models import Metadata, TrainState, WorkQueue, WorkQueueStatus
from trax.store.work_entries.dispatch import QueuedEntry

pytestmark = pytest.mark.django_db


def loaded_ids(**config: Any) -> list[int]:
    return [c.entry.id for c in load_queued(cycle_at(**config)).candidates]


def age(entry: WorkQueue, by: timedelta) -> WorkQueue:
    """Make ``entry`` older by ``by``."""
    WorkQueue.objects.filter(id=entry.pk).update(created_at=timezone.now() - by)
    return entry


# ── load queued ─────────────────────────────────────────────────────────────────────────────


def test_order_is_group_priority_then_entry_priority_then_age() -> None:
    high_group = trax.Group("high", priority=5)
    low_group = trax.Group("low", priority=1)
    hi_a = manifest("hi-a", group=high_group, priority=0)
    hi_b = manifest("hi-b", group=high_group, priority=3)
    lo_a = manifest("lo-a", group=low_group, priority=31)
    lo_b = manifest("lo-b", group=low_group, priority=31)
    e_hi_a = age(queue_entry(hi_a, priority=0), seconds(50))
    e_hi_b = age(queue_entry(hi_b, priority=3), seconds(10))
    e_lo_a = age(queue_entry(lo_a, priority=31), seconds(10))  # younger than lo_b's
    e_lo_b = age(queue_entry(lo_b, priority=31), seconds(20))
    # One-off entries have no group: group priority 0, after every group above.
    (one_old,) = trax.enqueue_many(GREET, [PERSON], priority=2)
    (one_new,) = trax.enqueue_many(GREET, [PERSON], priority=2)
    (one_top,) = trax.enqueue_many(GREET, [PERSON], priority=30)
    age(WorkQueue.objects.get(external_id=one_old), seconds(100))
    ids = {e: WorkQueue.objects.get(external_id=e).pk for e in (one_old, one_new, one_top)}

    assert loaded_ids() == [
        e_hi_b.pk,  # group 5, entry priority 3
        e_hi_a.pk,  # group 5, entry priority 0
        e_lo_b.pk,  # group 1, priority 31, older
        e_lo_a.pk,  # group 1, priority 31, younger
        ids[one_top],  # no group, priority 30
        ids[one_old],  # no group, priority 2, older
        ids[one_new],
    ]


def test_a_candidate_carries_what_its_run_needs() -> None:
    m = manifest("carried", group=trax.Group("g-carried", priority=7), priority=4)
    scheduled = timezone.now() - seconds(5)
    entry = queue_entry(m, priority=4, attempt=3, dispatch_attempts=2, scheduled_at=scheduled)

    (candidate,) = load_queued(cycle_at()).candidates

    assert candidate.group_id == m.group_id
    assert candidate.group_priority == 7
    e = candidate.entry
    assert (e.id, e.external_id, e.train_name, e.input, e.manifest_id) == (
        entry.pk,
        entry.external_id,
        GREET,
        PERSON,
        m.pk,
    )
    assert (e.priority, e.attempt, e.dispatch_attempts, e.scheduled_at) == (4, 3, 2, scheduled)


def test_an_entry_scheduled_in_the_future_waits_until_its_time() -> None:
    now = timezone.now()
    trax.enqueue(GREET, PERSON, run_at=now + seconds(60))
    due = trax.enqueue(GREET, PERSON, run_at=now - seconds(1))
    (due_id,) = WorkQueue.objects.filter(external_id=due).values_list("id", flat=True)
    later = WorkQueue.objects.exclude(id=due_id).get()

    assert loaded_ids(now=now) == [due_id]
    assert loaded_ids(now=now + seconds(59)) == [due_id]
    assert sorted(loaded_ids(now=now + seconds(60))) == sorted([due_id, later.pk])


def test_entries_of_a_disabled_group_wait() -> None:
    off = manifest("in-off-group", group=trax.Group("off", is_enabled=False))
    on = manifest("in-on-group", group=trax.Group("on"))
    queue_entry(off, is_explicit_trigger=True)  # even an explicit trigger waits for its group
    wanted = queue_entry(on)

    assert loaded_ids() == [wanted.pk]


def test_entries_of_a_disabled_manifest_wait_unless_explicitly_triggered() -> None:
    scheduled = manifest("disabled-scheduled", enabled=False)
    triggered = manifest("disabled-triggered", enabled=False)
    queue_entry(scheduled, is_explicit_trigger=False)
    trax.scheduler.trigger("disabled-triggered")
    explicit = WorkQueue.objects.get(manifest=triggered)

    assert loaded_ids() == [explicit.pk]


def test_only_queued_entries_are_loaded() -> None:
    queued = queue_entry()
    queue_entry(status=WorkQueueStatus.DISPATCHED)
    queue_entry(status=WorkQueueStatus.CANCELLED)

    assert loaded_ids() == [queued.pk]


def test_batch_size_bounds_the_candidates_and_keeps_the_best() -> None:
    ids = trax.enqueue_many(GREET, [PERSON] * 3, priority=1)
    best = trax.enqueue_many(GREET, [PERSON] * 2, priority=9)
    by_ext = dict(WorkQueue.objects.values_list("external_id", "id"))

    loaded = loaded_ids(batch_size=3)

    assert len(loaded) == 3
    assert loaded[:2] == [by_ext[best[0]], by_ext[best[1]]]
    assert loaded[2] == by_ext[ids[0]]


def test_a_capped_group_brings_no_more_than_its_cap_so_other_groups_are_not_starved() -> None:
    capped = trax.Group("capped", priority=9, max_active_jobs=2)
    other = trax.Group("other", priority=1)
    busy = [manifest(f"busy-{n}", group=capped) for n in range(5)]
    calm = [manifest(f"calm-{n}", group=other) for n in range(2)]
    crowd = [age(queue_entry(m), seconds(100)) for m in busy]  # older and higher: first
    waiting = [queue_entry(m) for m in calm]

    loaded = loaded_ids(batch_size=4)

    assert loaded == [crowd[0].pk, crowd[1].pk, waiting[0].pk, waiting[1].pk]


# ── load capacity ───────────────────────────────────────────────────────────────────────────


def make_run(name: str, state: str, **fields: object) -> Metadata:
    return Metadata.objects.create(name=name, input=PERSON, train_state=state, **fields)


def test_capacity_counts_pending_and_in_progress_runs_but_not_housekeeping() -> None:
    make_run(GREET, TrainState.PENDING)
    make_run(SLOW, TrainState.IN_PROGRESS)
    make_run(FAILS, TrainState.FAILED)
    make_run(GREET, TrainState.COMPLETED)
    make_run(GREET, TrainState.CANCELLED)
    make_run("trax.manager_cycle", TrainState.IN_PROGRESS)
    make_run("trax.dispatcher_cycle", TrainState.PENDING)
    make_run("traxish.user_train", TrainState.PENDING)  # only the "trax." prefix is ours

    capacity = load_capacity(cycle_at(), QueuedWork(()))

    assert capacity.active == 3
    assert capacity.active_by_group == {}
    assert capacity.group_caps == {}


def test_capacity_counts_active_runs_of_the_candidates_capped_groups() -> None:
    capped = trax.Group("capped", max_active_jobs=2)
    uncapped = trax.Group("uncapped")
    other = trax.Group("not-a-candidate", max_active_jobs=1)
    a = manifest("capped-a", group=capped)
    b = manifest("capped-b", group=capped)
    u = manifest("uncapped-a", group=uncapped)
    o = manifest("other-a", group=other)
    make_run(GREET, TrainState.IN_PROGRESS, manifest=a)
    make_run(GREET, TrainState.PENDING, manifest=b)
    make_run(GREET, TrainState.COMPLETED, manifest=b)
    make_run(GREET, TrainState.PENDING, manifest=u)
    make_run(GREET, TrainState.PENDING, manifest=o)
    queue_entry(a)
    queue_entry(u)

    cycle = cycle_at()
    capacity = load_capacity(cycle, load_queued(cycle))

    assert capacity.active == 4
    assert capacity.group_caps == {a.group_id: 2, u.group_id: None}
    assert capacity.active_by_group == {a.group_id: 2}


# ── apply limits ────────────────────────────────────────────────────────────────────────────


def candidate(entry_id: int, group: int | None = None) -> Candidate:
    entry = QueuedEntry(
        id=entry_id,
        external_id=uuid.uuid4(),
        origin_id=None,
        train_name=GREET,
        input=PERSON,
        manifest_id=None,
        priority=0,
        attempt=1,
        max_retries=0,
        dispatch_attempts=0,
        scheduled_at=None,
    )
    return Candidate(entry, group_id=group, group_priority=0)


def chosen(selected: object) -> list[int]:
    return [e.id for e in selected.entries]  # type: ignore[attr-defined]


def test_no_caps_chooses_every_candidate() -> None:
    queued = QueuedWork(tuple(candidate(i) for i in range(1, 6)))
    selected = apply_limits(cycle_at(max_active_jobs=None), queued, Capacity(active=100))
    assert chosen(selected) == [1, 2, 3, 4, 5]
    assert not selected.global_cap_reached


def test_the_global_cap_counts_active_runs_and_stops_the_walk() -> None:
    queued = QueuedWork(tuple(candidate(i) for i in range(1, 6)))
    selected = apply_limits(cycle_at(max_active_jobs=4), queued, Capacity(active=2))
    assert chosen(selected) == [1, 2]
    assert selected.global_cap_reached


def test_a_full_global_cap_chooses_nothing() -> None:
    queued = QueuedWork((candidate(1),))
    selected = apply_limits(cycle_at(max_active_jobs=3), queued, Capacity(active=3))
    assert chosen(selected) == []
    assert selected.global_cap_reached


def test_a_group_cap_skips_only_that_group() -> None:
    queued = QueuedWork(
        (
            candidate(1, group=10),
            candidate(2, group=10),
            candidate(3, group=20),
            candidate(4, group=10),
            candidate(5),
            candidate(6, group=20),
        )
    )
    capacity = Capacity(active=1, active_by_group={10: 1}, group_caps={10: 2, 20: None})
    selected = apply_limits(cycle_at(max_active_jobs=None), queued, capacity)
    assert chosen(selected) == [1, 3, 5, 6]
    assert not selected.global_cap_reached


def test_a_skipped_group_does_not_use_global_capacity_and_the_cap_still_stops() -> None:
    queued = QueuedWork(
        (candidate(1, group=10), candidate(2), candidate(3), candidate(4), candidate(5))
    )
    capacity = Capacity(active=1, active_by_group={10: 3}, group_caps={10: 3})
    selected = apply_limits(cycle_at(max_active_jobs=3), queued, capacity)
    assert chosen(selected) == [2, 3]
    assert selected.global_cap_reached
