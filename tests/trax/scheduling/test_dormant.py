"""Dormant dependents: never fired by the manager; a running parent activates its own dormant
children with a runtime input (``trax.activate`` / ``trax.activate_many``), many in one
transaction (all or nothing on validation errors; a child already queued or running is skipped
with a warning)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

import trax
from trax.core import InputValidationError
from trax.effects.from_settings import default_service
from trax.effects.lifecycle import Execution
from trax.manager.cycle import run_manager_cycle
from trax.models import Manifest, Metadata, ScheduleType, TrainState, WorkQueue, WorkQueueStatus
from trax.scheduling.errors import ActivationError
from trax.scheduling.schedules import Every
from trax.store import database_now, metadata_create

pytestmark = pytest.mark.django_db

GREET = "demo.greet"
ADA = {"name": "Ada"}
PARENT = "tests.dormant_parent"


# ── the parent train: activates what its input says ─────────────────────────────────────────


@dataclass
class Activation:
    external_id: str
    input: Any = None


@dataclass
class Plan:
    activations: list[Activation] = field(default_factory=list)
    one_at_a_time: bool = False


@dataclass
class Activated:
    results: list[bool]


def activate_children(plan: Plan) -> Activated:
    pairs = [(a.external_id, a.input) for a in plan.activations]
    if plan.one_at_a_time:
        return Activated([trax.activate(external_id, data) for external_id, data in pairs])
    return Activated(trax.activate_many(pairs))


@trax.register
class DormantParent(trax.Train[Plan, Activated]):
    name = PARENT
    junctions = [activate_children]


# ── helpers ──────────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def family() -> dict[str, Manifest]:
    """parent (interval) with dormant children child-1 (priority 3) and child-2 (priority 20),
    an ordinary dependent dep; another parent with its own dormant child stranger."""
    s = trax.scheduler
    return {
        "parent": s.schedule("parent", PARENT, {}, Every.hours(1)),
        "child-1": s.schedule_dependent(
            "child-1", GREET, ADA, depends_on="parent", dormant=True, priority=3
        ),
        "child-2": s.schedule_dependent(
            "child-2", GREET, ADA, depends_on="parent", dormant=True, priority=20
        ),
        "dep": s.schedule_dependent("dep", GREET, ADA, depends_on="parent"),
        "other": s.schedule("other", PARENT, {}, Every.hours(1)),
        "stranger": s.schedule_dependent("stranger", GREET, ADA, depends_on="other", dormant=True),
    }


def run_parent(
    *activations: tuple[str, Any], manifest: str | None = "parent", one_at_a_time: bool = False
) -> Execution:
    plan = {
        "activations": [{"external_id": e, "input": data} for e, data in activations],
        "one_at_a_time": one_at_a_time,
    }
    manifest_id = Manifest.objects.get(external_id=manifest).pk if manifest is not None else None
    row = metadata_create(name=PARENT, input=plan, manifest_id=manifest_id)
    return default_service().execute(row.pk)


def results(execution: Execution) -> list[bool]:
    assert execution.state == TrainState.COMPLETED, execution.result
    return list(Metadata.objects.get(pk=execution.metadata_id).output["results"])


def error_of(execution: Execution) -> BaseException:
    assert execution.state == TrainState.FAILED
    assert execution.result is not None
    return execution.result.error  # type: ignore[union-attr]


def queued(external_id: str) -> list[WorkQueue]:
    return list(
        WorkQueue.objects.filter(manifest__external_id=external_id, status=WorkQueueStatus.QUEUED)
    )


def queue_rows() -> list[dict[str, Any]]:
    return list(WorkQueue.objects.order_by("pk").values())


# ── activation ───────────────────────────────────────────────────────────────────────────────


def test_a_running_parent_activates_its_dormant_child_with_a_runtime_input(
    family: dict[str, Manifest],
) -> None:
    before = timezone.now()

    execution = run_parent(("child-1", {"name": "runtime"}), one_at_a_time=True)

    assert results(execution) == [True]
    (entry,) = queued("child-1")
    assert entry.input == {"name": "runtime"}  # the runtime input, not the manifest's
    assert entry.train_name == GREET
    assert entry.priority == 3 + 16  # the dependent priority boost
    assert entry.is_explicit_trigger
    assert before <= entry.scheduled_at <= timezone.now()
    assert WorkQueue.objects.count() == 1


def test_the_boosted_priority_is_clamped_to_31(family: dict[str, Manifest]) -> None:
    run_parent(("child-2", ADA))

    (entry,) = queued("child-2")
    assert entry.priority == 31


def test_the_boost_follows_the_setting(family: dict[str, Manifest], settings: Any) -> None:
    settings.TRAX = {**settings.TRAX, "DEPENDENT_PRIORITY_BOOST": 4}

    run_parent(("child-1", ADA))

    assert queued("child-1")[0].priority == 7


def test_activate_many_activates_several_children_at_once(family: dict[str, Manifest]) -> None:
    execution = run_parent(("child-1", {"name": "one"}), ("child-2", {"name": "two"}))

    assert results(execution) == [True, True]
    assert queued("child-1")[0].input == {"name": "one"}
    assert queued("child-2")[0].input == {"name": "two"}


def test_an_activation_takes_an_input_instance_too(family: dict[str, Manifest]) -> None:
    from project.trains import Person

    seen: list[bool] = []

    def activate_with_instance(plan: Plan) -> Activated:
        seen.append(trax.activate("child-1", Person("Grace")))
        return Activated(seen)

    @trax.register
    class InstanceParent(trax.Train[Plan, Activated]):
        name = "tests.dormant_parent_instance"
        junctions = [activate_with_instance]

    try:
        row = metadata_create(name=InstanceParent.name, input={}, manifest_id=family["parent"].pk)
        execution = default_service().execute(row.pk)
    finally:
        from trax.registry import registry

        registry.remove(InstanceParent.name)

    assert execution.state == TrainState.COMPLETED
    assert queued("child-1")[0].input == {"name": "Grace"}


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (("dep", ADA), ActivationError),  # a dependent, but not dormant
        (("parent", ADA), ActivationError),  # not a dependent at all
        (("stranger", ADA), ActivationError),  # dormant, but another parent's child
        (("ghost", ADA), ActivationError),  # no such manifest
        (("child-2", {"nom": "x"}), InputValidationError),  # bad input for the child's train
        (("child-2", None), InputValidationError),
    ],
    ids=["not-dormant", "not-dependent", "not-its-child", "unknown-id", "bad-input", "no-input"],
)
@pytest.mark.parametrize("bad_first", [False, True], ids=["bad-last", "bad-first"])
def test_one_invalid_activation_rolls_the_whole_batch_back(
    family: dict[str, Manifest], bad: tuple[str, Any], error: type[Exception], bad_first: bool
) -> None:
    good = ("child-1", ADA)
    batch = (bad, good) if bad_first else (good, bad)
    rows = queue_rows()

    execution = run_parent(*batch)

    failure = error_of(execution)
    assert isinstance(failure, error)
    if error is ActivationError:
        assert bad[0] in str(failure)
    assert queue_rows() == rows
    assert queued("child-1") == []


@pytest.mark.parametrize(
    "bad",
    [("dep", ADA), ("stranger", ADA), ("ghost", ADA), ("child-1", {"nom": "x"})],
    ids=["not-dormant", "not-its-child", "unknown-id", "bad-input"],
)
def test_a_single_invalid_activation_is_refused_and_queues_nothing(
    family: dict[str, Manifest], bad: tuple[str, Any]
) -> None:
    execution = run_parent(bad, one_at_a_time=True)

    assert isinstance(error_of(execution), ActivationError | InputValidationError)
    assert WorkQueue.objects.count() == 0


def test_an_already_queued_child_is_skipped_with_a_warning_without_rolling_back_the_others(
    family: dict[str, Manifest], caplog: pytest.LogCaptureFixture
) -> None:
    existing = trax.scheduler.trigger("child-1")

    with caplog.at_level(logging.WARNING, logger="trax.scheduling"):
        execution = run_parent(("child-1", {"name": "again"}), ("child-2", {"name": "two"}))

    assert results(execution) == [False, True]
    (entry,) = queued("child-1")
    assert entry.external_id == existing and entry.input == ADA  # untouched
    assert queued("child-2")[0].input == {"name": "two"}
    assert any("child-1" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


@pytest.mark.parametrize("state", [TrainState.PENDING, TrainState.IN_PROGRESS])
def test_a_child_already_running_is_skipped_with_a_warning(
    family: dict[str, Manifest], state: TrainState, caplog: pytest.LogCaptureFixture
) -> None:
    running = metadata_create(name=GREET, input=ADA, manifest_id=family["child-1"].pk)
    Metadata.objects.filter(pk=running.pk).update(train_state=state)

    with caplog.at_level(logging.WARNING, logger="trax.scheduling"):
        execution = run_parent(("child-1", ADA), ("child-2", ADA))

    assert results(execution) == [False, True]
    assert queued("child-1") == [] and len(queued("child-2")) == 1
    assert any("child-1" in r.getMessage() for r in caplog.records)


def test_a_child_whose_last_run_finished_can_be_activated_again(
    family: dict[str, Manifest],
) -> None:
    done = metadata_create(name=GREET, input=ADA, manifest_id=family["child-1"].pk)
    Metadata.objects.filter(pk=done.pk).update(train_state=TrainState.COMPLETED)

    assert results(run_parent(("child-1", ADA))) == [True]


def test_the_same_child_twice_in_one_batch_is_queued_once(family: dict[str, Manifest]) -> None:
    execution = run_parent(("child-1", {"name": "first"}), ("child-1", {"name": "second"}))

    assert results(execution) == [True, False]
    (entry,) = queued("child-1")
    assert entry.input == {"name": "first"}


def test_activating_outside_a_run_is_an_activation_error(family: dict[str, Manifest]) -> None:
    with pytest.raises(ActivationError):
        trax.activate("child-1", ADA)
    with pytest.raises(ActivationError):
        trax.activate_many([("child-1", ADA)])

    assert WorkQueue.objects.count() == 0


def test_activating_from_a_run_without_a_manifest_is_an_activation_error(
    family: dict[str, Manifest],
) -> None:
    execution = run_parent(("child-1", ADA), manifest=None)

    assert isinstance(error_of(execution), ActivationError)
    assert WorkQueue.objects.count() == 0


def test_activating_from_a_synchronous_run_is_an_activation_error(
    family: dict[str, Manifest],
) -> None:
    result = trax.run_result(DormantParent, {"activations": [{"external_id": "child-1"}]})

    assert isinstance(result.error, ActivationError)  # type: ignore[union-attr]
    assert WorkQueue.objects.count() == 0


def test_a_run_of_another_parent_cannot_activate_this_parents_children(
    family: dict[str, Manifest],
) -> None:
    execution = run_parent(("child-1", ADA), manifest="other")

    assert isinstance(error_of(execution), ActivationError)
    assert WorkQueue.objects.count() == 0


# ── the manager never fires a dormant dependent ──────────────────────────────────────────────


def test_the_manager_cycle_never_fires_a_dormant_dependent_by_itself(
    family: dict[str, Manifest],
) -> None:
    execution = run_parent()  # the parent succeeds, activating nothing
    assert execution.state == TrainState.COMPLETED
    assert Manifest.objects.get(external_id="parent").last_successful_run is not None

    run_manager_cycle(database_now() + timedelta(seconds=1))

    assert len(queued("dep")) == 1  # the ordinary dependent fires
    assert queued("child-1") == queued("child-2") == []
    child = Manifest.objects.get(external_id="child-1")
    assert child.schedule_type == ScheduleType.DORMANT_DEPENDENT
    assert child.last_parent_success_seen is None


def test_the_manager_cycle_never_fires_a_dormant_dependent_on_a_later_cycle_either(
    family: dict[str, Manifest],
) -> None:
    run_parent()
    now = database_now() + timedelta(seconds=1)
    for minutes in (0, 5, 60, 24 * 60):
        run_manager_cycle(now + timedelta(minutes=minutes))

    assert queued("child-1") == queued("child-2") == []
    assert not WorkQueue.objects.filter(manifest__external_id__in=["child-1", "child-2"]).exists()
