"""trax.testing: a user's test can walk schedules and drain queued work without processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import trax
from trax.models import BackgroundJob, Manifest, Metadata, TrainState, WorkQueue
from trax.scheduling.schedules import Every
from trax.testing import drain, run_scheduler_cycle

pytestmark = pytest.mark.django_db

GREET = "demo.greet"
ADA = {"name": "Ada"}


def test_drain_runs_queued_work_to_completion_in_this_thread() -> None:
    trax.enqueue_many(GREET, [ADA, {"name": "Grace"}])
    trax.enqueue(GREET, ADA, delay=3600)  # not due: stays queued

    drained = drain()

    assert len(drained.run_ids) == 2
    assert set(drained.states.values()) == {TrainState.COMPLETED}
    assert Metadata.objects.filter(train_state=TrainState.COMPLETED).count() == 2
    assert not BackgroundJob.objects.exists()
    assert WorkQueue.objects.filter(status="queued").count() == 1


def test_drain_at_a_later_time_runs_delayed_work() -> None:
    trax.enqueue(GREET, ADA, delay=3600)

    drained = drain(now=datetime.now(UTC) + timedelta(hours=2))

    assert list(drained.states.values()) == [TrainState.COMPLETED]


def test_a_schedule_and_its_dependent_walked_by_cycles_at_chosen_times() -> None:
    trax.scheduler.schedule("parent", GREET, ADA, Every.minutes(10))
    trax.scheduler.schedule_dependent("child", GREET, ADA, depends_on="parent")
    start = datetime.now(UTC) + timedelta(minutes=1)

    run_scheduler_cycle(start)
    drain(now=start)
    run_scheduler_cycle(start + timedelta(seconds=1))  # the parent's success fires the child
    drained = drain(now=start + timedelta(seconds=1))

    child = Manifest.objects.get(external_id="child")
    assert [Metadata.objects.get(pk=i).manifest_id for i in drained.run_ids] == [child.pk]
    assert Manifest.objects.get(external_id="parent").last_successful_run is not None
    assert child.runs.get().train_state == TrainState.COMPLETED
