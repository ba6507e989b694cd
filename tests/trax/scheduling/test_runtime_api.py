"""The runtime scheduler API (``trax.scheduler``): manifests created and updated at runtime,
triggers, switches, cancels and dead-letter resolution. Every call returns what it did; every
refused call raises a clear error and leaves the database exactly as it was."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

import trax
from project.trains import Card, Greet, Person
from trax.api import UnknownRunError
from trax.core import InputValidationError
from trax.models import (
    Audit,
    CancelReason,
    DeadLetter,
    DeadLetterStatus,
    Manifest,
    ManifestGroup,
    Metadata,
    ScheduleType,
    TrainState,
    WorkQueue,
    WorkQueueStatus,
)
from trax.registry import UnknownTrainError
from trax.scheduling.declarations import ManifestItem
from trax.scheduling.errors import (
    DeclarationOrderError,
    DependencyCycleError,
    ScheduleError,
    UnknownDeadLetterError,
    UnknownGroupError,
    UnknownManifestError,
)
from trax.scheduling.runtime import Scheduler
from trax.scheduling.schedules import Cron, Every, IntervalSchedule, next_cron_time
from trax.store import metadata_create

pytestmark = pytest.mark.django_db

GREET = "demo.greet"
ADA = {"name": "Ada"}
TABLES = (ManifestGroup, Manifest, WorkQueue, DeadLetter, Metadata, Audit)


# ── helpers ──────────────────────────────────────────────────────────────────────────────────


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TABLES}


def db_state() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the scheduler writes, to prove a refused call changed nothing."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in TABLES}


def assert_refused(
    call: Callable[[], object],
    error: type[Exception] = ScheduleError,
    *,
    field: str | None = None,
    match: str | None = None,
) -> Exception:
    counts, state = row_counts(), db_state()
    with pytest.raises(error, match=match) as info:
        call()
    if field is not None:
        assert getattr(info.value, "field", None) == field, info.value
    assert row_counts() == counts
    assert db_state() == state
    return info.value


def manifest(external_id: str) -> Manifest:
    return Manifest.objects.select_related("group", "depends_on").get(external_id=external_id)


def queued(external_id: str) -> list[WorkQueue]:
    return list(
        WorkQueue.objects.filter(
            manifest__external_id=external_id, status=WorkQueueStatus.QUEUED
        ).order_by("pk")
    )


def interval(external_id: str, **options: Any) -> Manifest:
    return trax.scheduler.schedule(external_id, GREET, ADA, Every.minutes(5), **options)


def run_of(m: Manifest, state: TrainState = TrainState.PENDING) -> Metadata:
    row = metadata_create(name=m.train_name, input=m.input, manifest_id=m.pk)
    if state != TrainState.PENDING:
        Metadata.objects.filter(pk=row.pk).update(train_state=state)
        row.refresh_from_db()
    return row


def dead_letter(
    m: Manifest, status: DeadLetterStatus = DeadLetterStatus.AWAITING_INTERVENTION
) -> DeadLetter:
    failed = run_of(m, TrainState.FAILED)
    return DeadLetter.objects.create(
        manifest=m, last_failed_run=failed, reason="retries exhausted", retry_count=3, status=status
    )


def audits(action: str) -> list[Audit]:
    return list(Audit.objects.filter(action=action).order_by("pk"))


# ── schedule: creating manifests ─────────────────────────────────────────────────────────────


def test_schedule_creates_a_manifest_in_a_group_named_after_its_external_id() -> None:
    created = trax.scheduler.schedule("nightly-greet", GREET, ADA, Every.hours(1), priority=4)

    row = manifest("nightly-greet")
    assert created.pk == row.pk
    assert row.train_name == GREET and row.input == ADA
    assert row.schedule_type == ScheduleType.INTERVAL and row.interval_seconds == 3600
    assert row.priority == 4 and row.is_enabled and not row.is_enabled_overridden
    assert row.group.name == "nightly-greet"
    assert not row.declared_in_code
    assert ManifestGroup.objects.count() == 1


def test_schedule_accepts_the_train_class_and_an_input_instance() -> None:
    trax.scheduler.schedule("by-class", Greet, Person("Grace"), Every.minutes(1))

    row = manifest("by-class")
    assert row.train_name == GREET and row.input == {"name": "Grace"}


def test_schedule_puts_the_manifest_in_the_group_it_names() -> None:
    interval("a", group="etl")
    interval("b", group="etl")

    assert manifest("a").group_id == manifest("b").group_id
    group = ManifestGroup.objects.get()
    assert group.name == "etl" and group.max_active_jobs is None and group.priority == 0


def test_schedule_with_a_group_object_creates_the_group_with_its_settings() -> None:
    interval("a", group=trax.Group("capped", max_active_jobs=2, priority=3))

    group = manifest("a").group
    assert (group.name, group.max_active_jobs, group.priority, group.is_enabled) == (
        "capped",
        2,
        3,
        True,
    )


def test_a_plain_group_name_leaves_an_existing_groups_settings_alone() -> None:
    interval("a", group=trax.Group("capped", max_active_jobs=2, priority=3))
    interval("b", group="capped")

    group = ManifestGroup.objects.get(name="capped")
    assert (group.max_active_jobs, group.priority) == (2, 3)
    assert manifest("b").group_id == group.pk


def test_schedule_writes_an_audit_row_with_the_actor() -> None:
    trax.scheduler.as_actor("alice").schedule("a", GREET, ADA, Every.minutes(5))

    (row,) = audits("manifest.schedule")
    assert (row.actor, row.target) == ("alice", "manifest:a")


def test_an_interval_manifest_is_due_at_once() -> None:
    before = timezone.now()
    interval("a")
    after = timezone.now()

    assert before <= manifest("a").next_run_at <= after


def test_a_cron_manifest_is_due_at_its_next_match() -> None:
    schedule = Cron.daily(hour=3, minute=30)
    before = timezone.now()
    trax.scheduler.schedule("a", GREET, ADA, schedule)
    after = timezone.now()

    row = manifest("a")
    assert row.schedule_type == ScheduleType.CRON
    assert row.cron_expression == "0 30 3 * * *"
    assert row.next_run_at in {
        next_cron_time(schedule.expression, "UTC", before),
        next_cron_time(schedule.expression, "UTC", after),
    }
    assert row.next_run_at > before
    assert (row.next_run_at.hour, row.next_run_at.minute, row.next_run_at.second) == (3, 30, 0)


def test_a_cron_manifest_is_evaluated_in_its_own_time_zone() -> None:
    trax.scheduler.schedule("a", GREET, ADA, Cron.daily(hour=3), timezone="Europe/Berlin")

    row = manifest("a")
    local = row.next_run_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert row.timezone == "Europe/Berlin"
    assert (local.hour, local.minute) == (3, 0)
    assert row.next_run_at > timezone.now()


def test_a_once_manifest_is_due_at_its_run_at() -> None:
    run_at = datetime(2031, 5, 17, 9, 15, tzinfo=UTC)

    created = trax.scheduler.schedule_once(GREET, ADA, run_at=run_at, external_id="launch")

    row = manifest("launch")
    assert created.pk == row.pk
    assert row.schedule_type == ScheduleType.ONCE
    assert row.run_at == run_at and row.next_run_at == run_at


@pytest.mark.parametrize("delay", [90, timedelta(seconds=90)], ids=["seconds", "timedelta"])
def test_schedule_once_with_a_delay_is_due_that_long_from_now(delay: Any) -> None:
    before = timezone.now()
    created = trax.scheduler.schedule_once(GREET, ADA, delay=delay)
    after = timezone.now()

    row = Manifest.objects.get(pk=created.pk)
    assert row.external_id.startswith("once-")
    assert before + timedelta(seconds=90) <= row.next_run_at <= after + timedelta(seconds=90)
    assert row.run_at == row.next_run_at


def test_schedule_once_without_an_external_id_makes_a_fresh_one_each_time() -> None:
    first = trax.scheduler.schedule_once(GREET, ADA, delay=10)
    second = trax.scheduler.schedule_once(GREET, ADA, delay=10)

    assert first.external_id != second.external_id
    assert Manifest.objects.count() == 2


@pytest.mark.parametrize(
    "when",
    [{}, {"run_at": datetime(2031, 1, 1, tzinfo=UTC), "delay": 10}],
    ids=["neither", "both"],
)
def test_schedule_once_needs_exactly_one_of_run_at_and_delay(when: dict[str, Any]) -> None:
    assert_refused(
        lambda: trax.scheduler.schedule_once(GREET, ADA, external_id="x", **when), field="run_at"
    )


@pytest.mark.parametrize(
    ("when", "field"),
    [
        ({"run_at": datetime(2031, 1, 1)}, "run_at"),  # naive
        ({"run_at": "2031-01-01T00:00:00Z"}, "run_at"),
        ({"delay": -5}, "delay"),
        ({"delay": 1.5}, "delay"),
    ],
    ids=["naive-run-at", "string-run-at", "negative-delay", "fractional-delay"],
)
def test_schedule_once_refuses_a_bad_time(when: dict[str, Any], field: str) -> None:
    assert_refused(
        lambda: trax.scheduler.schedule_once(GREET, ADA, external_id="x", **when), field=field
    )


# ── schedule: calling again updates in place ────────────────────────────────────────────────


def test_scheduling_again_updates_the_manifest_in_place() -> None:
    first = interval("a", priority=1, max_retries=2)

    second = trax.scheduler.schedule(
        "a", GREET, {"name": "Grace"}, Every.minutes(5), priority=7, max_retries=5, timeout=60
    )

    assert second.pk == first.pk
    assert Manifest.objects.count() == 1
    row = manifest("a")
    assert (row.priority, row.max_retries, row.timeout_seconds) == (7, 5, 60)
    assert row.input == {"name": "Grace"}


def test_scheduling_again_without_a_schedule_change_leaves_next_run_at() -> None:
    interval("a")
    due = timezone.now() - timedelta(hours=1)
    Manifest.objects.filter(external_id="a").update(next_run_at=due)

    interval("a", priority=9, group="other")

    row = manifest("a")
    assert row.priority == 9 and row.group.name == "other"
    assert row.next_run_at == due


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((Every.minutes(5), {}), (Every.minutes(10), {})),
        ((Cron.daily(hour=3), {}), (Cron.daily(hour=4), {})),
        ((Cron.daily(hour=3), {}), (Cron.daily(hour=3), {"timezone": "Asia/Tokyo"})),
        ((Every.minutes(5), {}), (Cron.hourly(minute=7), {})),
    ],
    ids=["interval", "cron", "time-zone", "interval-to-cron"],
)
def test_scheduling_again_with_a_schedule_change_recomputes_next_run_at(
    first: tuple[Any, dict[str, Any]], second: tuple[Any, dict[str, Any]]
) -> None:
    trax.scheduler.schedule("a", GREET, ADA, first[0], **first[1])
    stale = datetime(2020, 1, 1, tzinfo=UTC)
    Manifest.objects.filter(external_id="a").update(next_run_at=stale)

    before = timezone.now()
    trax.scheduler.schedule("a", GREET, ADA, second[0], **second[1])

    row = manifest("a")
    assert Manifest.objects.count() == 1
    assert row.next_run_at != stale
    assert row.next_run_at >= before


def test_scheduling_a_once_manifest_again_at_another_time_moves_it() -> None:
    trax.scheduler.schedule_once(
        GREET, ADA, run_at=datetime(2031, 1, 1, tzinfo=UTC), external_id="x"
    )
    later = datetime(2031, 2, 1, tzinfo=UTC)

    trax.scheduler.schedule_once(GREET, ADA, run_at=later, external_id="x")

    row = manifest("x")
    assert row.run_at == later and row.next_run_at == later
    assert Manifest.objects.count() == 1


# ── schedule_many ────────────────────────────────────────────────────────────────────────────


def test_schedule_many_with_a_name_creates_name_dash_id_manifests_in_group_name() -> None:
    items = [ManifestItem(str(i), {"name": f"user {i}"}) for i in range(3)]

    created = trax.scheduler.schedule_many(GREET, items, Every.minutes(5), name="greet")

    assert [m.external_id for m in created] == ["greet-0", "greet-1", "greet-2"]
    rows = list(Manifest.objects.select_related("group").order_by("external_id"))
    assert [m.external_id for m in rows] == ["greet-0", "greet-1", "greet-2"]
    assert {m.group.name for m in rows} == {"greet"}
    assert [m.input for m in rows] == [{"name": f"user {i}"} for i in range(3)]
    assert ManifestGroup.objects.count() == 1


def test_schedule_many_without_a_name_uses_item_ids_and_one_group_each() -> None:
    items = [ManifestItem("x", ADA), ManifestItem("y", ADA)]

    trax.scheduler.schedule_many(GREET, items, Every.minutes(5))

    assert sorted(Manifest.objects.values_list("external_id", "group__name")) == [
        ("x", "x"),
        ("y", "y"),
    ]


def test_schedule_many_again_updates_in_place() -> None:
    items = [ManifestItem(str(i), ADA) for i in range(2)]
    first = trax.scheduler.schedule_many(GREET, items, Every.minutes(5), name="greet")

    second = trax.scheduler.schedule_many(GREET, items, Every.minutes(5), name="greet", priority=6)

    assert [m.pk for m in second] == [m.pk for m in first]
    assert Manifest.objects.count() == 2
    assert set(Manifest.objects.values_list("priority", flat=True)) == {6}


def test_schedule_many_with_a_repeated_item_id_writes_none() -> None:
    items = [ManifestItem("0", ADA), ManifestItem("0", ADA)]

    error = assert_refused(
        lambda: trax.scheduler.schedule_many(GREET, items, Every.minutes(5), name="greet"),
        field="external_id",
    )
    assert "greet-0" in str(error)


def test_schedule_many_with_one_bad_input_writes_none() -> None:
    items = [ManifestItem("0", ADA), ManifestItem("1", {"nom": "Ada"})]

    assert_refused(
        lambda: trax.scheduler.schedule_many(GREET, items, Every.minutes(5), name="greet"),
        InputValidationError,
    )


# ── dependents ───────────────────────────────────────────────────────────────────────────────


def test_schedule_dependent_links_the_manifest_to_its_parent() -> None:
    parent = interval("extract")

    child = trax.scheduler.schedule_dependent("transform", GREET, ADA, depends_on="extract")

    row = manifest("transform")
    assert child.pk == row.pk
    assert row.schedule_type == ScheduleType.DEPENDENT
    assert row.depends_on_id == parent.pk
    assert row.next_run_at is None and row.interval_seconds is None


def test_schedule_dependent_with_dormant_makes_a_dormant_dependent() -> None:
    interval("parent")

    trax.scheduler.schedule_dependent("child", GREET, ADA, depends_on="parent", dormant=True)

    row = manifest("child")
    assert row.schedule_type == ScheduleType.DORMANT_DEPENDENT
    assert row.depends_on.external_id == "parent"
    assert row.next_run_at is None


def test_schedule_many_dependent_links_each_item_to_its_own_parent() -> None:
    trax.scheduler.schedule_many(
        GREET, [ManifestItem(str(i), ADA) for i in range(2)], Every.minutes(5), name="extract"
    )

    created = trax.scheduler.schedule_many_dependent(
        GREET,
        [ManifestItem(str(i), ADA, depends_on=f"extract-{i}") for i in range(2)],
        name="transform",
    )

    assert [m.external_id for m in created] == ["transform-0", "transform-1"]
    for i in range(2):
        row = manifest(f"transform-{i}")
        assert row.schedule_type == ScheduleType.DEPENDENT
        assert row.depends_on.external_id == f"extract-{i}"
        assert row.group.name == "transform"


def test_schedule_many_dependent_with_dormant_makes_dormant_dependents() -> None:
    interval("parent")

    trax.scheduler.schedule_many_dependent(
        GREET, [ManifestItem("c1", ADA, depends_on="parent")], dormant=True
    )

    assert manifest("c1").schedule_type == ScheduleType.DORMANT_DEPENDENT


def test_a_dependent_may_hang_off_a_parent_in_the_same_group() -> None:
    interval("extract", group="etl")

    trax.scheduler.schedule_dependent("transform", GREET, ADA, depends_on="extract", group="etl")
    trax.scheduler.schedule_dependent("load", GREET, ADA, depends_on="transform", group="etl")

    assert manifest("load").depends_on.external_id == "transform"


def test_a_dependent_of_an_unknown_parent_is_refused_naming_the_parent() -> None:
    interval("extract")

    error = assert_refused(
        lambda: trax.scheduler.schedule_dependent("transform", GREET, ADA, depends_on="ghost"),
        field="depends_on",
    )
    assert "ghost" in str(error)


def test_schedule_many_dependent_with_one_unknown_parent_writes_none() -> None:
    interval("extract")
    items = [
        ManifestItem("t0", ADA, depends_on="extract"),
        ManifestItem("t1", ADA, depends_on="ghost"),
    ]

    error = assert_refused(
        lambda: trax.scheduler.schedule_many_dependent(GREET, items), field="depends_on"
    )
    assert "ghost" in str(error)


def test_schedule_many_dependent_needs_depends_on_on_every_item() -> None:
    interval("extract")
    items = [ManifestItem("t0", ADA, depends_on="extract"), ManifestItem("t1", ADA)]

    error = assert_refused(
        lambda: trax.scheduler.schedule_many_dependent(GREET, items), DeclarationOrderError
    )
    assert "t1" in str(error)


def test_a_manifest_cannot_depend_on_itself() -> None:
    interval("a")

    assert_refused(
        lambda: trax.scheduler.schedule_dependent("a", GREET, ADA, depends_on="a"),
        field="depends_on",
    )


def test_a_dependency_cycle_is_refused_at_runtime_naming_its_members() -> None:
    interval("a")
    trax.scheduler.schedule_dependent("b", GREET, ADA, depends_on="a")

    error = assert_refused(
        lambda: trax.scheduler.schedule_dependent("a", GREET, ADA, depends_on="b"),
        DependencyCycleError,
        field="depends_on",
    )
    assert isinstance(error, DependencyCycleError)
    assert sorted(error.members) == ["a", "b"]
    assert "a" in str(error) and "b" in str(error)


def test_a_longer_dependency_cycle_is_refused_at_runtime() -> None:
    interval("a")
    trax.scheduler.schedule_dependent("b", GREET, ADA, depends_on="a")
    trax.scheduler.schedule_dependent("c", GREET, ADA, depends_on="b")

    error = assert_refused(
        lambda: trax.scheduler.schedule_many_dependent(
            GREET, [ManifestItem("a", ADA, depends_on="c")]
        ),
        DependencyCycleError,
    )
    assert isinstance(error, DependencyCycleError)
    assert sorted(error.members) == ["a", "b", "c"]


def test_a_group_cycle_is_refused_at_runtime_naming_the_groups() -> None:
    interval("p1", group="g1")
    interval("p2", group="g2")
    trax.scheduler.schedule_dependent("m1", GREET, ADA, depends_on="p2", group="g1")

    error = assert_refused(
        lambda: trax.scheduler.schedule_dependent("m2", GREET, ADA, depends_on="p1", group="g2"),
        DependencyCycleError,
    )
    assert isinstance(error, DependencyCycleError)
    assert sorted(error.members) == ["g1", "g2"]
    assert "g1" in str(error) and "g2" in str(error)


def test_rescheduling_a_parent_into_a_group_that_closes_a_group_cycle_is_refused() -> None:
    interval("p1", group="g1")
    interval("p2", group="g2")
    trax.scheduler.schedule_dependent("m1", GREET, ADA, depends_on="p2", group="g1")  # g1 -> g2
    trax.scheduler.schedule_dependent("m2", GREET, ADA, depends_on="p1", group="g3")  # g3 -> g1

    # m2 moving into g2 would make g2 -> g1 while g1 -> g2.
    error = assert_refused(
        lambda: trax.scheduler.schedule_dependent("m2", GREET, ADA, depends_on="p1", group="g2"),
        DependencyCycleError,
    )
    assert sorted(error.members) == ["g1", "g2"]  # type: ignore[attr-defined]


# ── schedule: bad values are refused and change nothing ──────────────────────────────────────


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"priority": -1}, "priority"),
        ({"priority": 32}, "priority"),
        ({"priority": True}, "priority"),
        ({"priority": "3"}, "priority"),
        ({"max_retries": -1}, "max_retries"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": timedelta(seconds=-30)}, "timeout"),
        ({"timeout": 0}, "timeout_seconds"),
        ({"retry_delay": -1}, "retry_delay"),
        ({"variance": -1}, "variance"),
        ({"misfire_threshold": -1}, "misfire_threshold"),
        ({"misfire_policy": "fire_twice"}, "misfire_policy"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"enabled": "yes"}, "is_enabled"),
        ({"group": ""}, "group"),
        ({"colour": "red"}, "colour"),
        ({"dormant": True}, "dormant"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else str(v),
)
def test_schedule_refuses_a_bad_option_naming_the_field(
    options: dict[str, Any], field: str
) -> None:
    interval("existing", priority=2)

    assert_refused(lambda: interval("existing", **options), field=field)
    assert_refused(lambda: interval("new", **options), field=field)


@pytest.mark.parametrize(
    ("make_group", "field"),
    [
        (lambda: trax.Group("g", priority=32), "group.priority"),
        (lambda: trax.Group("g", priority=-1), "group.priority"),
        (lambda: trax.Group("g", max_active_jobs=0), "group.max_active_jobs"),
        (lambda: trax.Group("g", max_active_jobs=True), "group.max_active_jobs"),
    ],
    ids=["priority-32", "priority-negative", "max-active-zero", "max-active-bool"],
)
def test_a_bad_group_setting_is_refused_naming_the_field(
    make_group: Callable[[], Any], field: str
) -> None:
    counts = row_counts()
    with pytest.raises(ScheduleError) as info:
        interval("a", group=make_group())
    assert info.value.field == field
    assert row_counts() == counts


@pytest.mark.parametrize(
    "make_schedule",
    [
        lambda: Cron.expression("61 * * * *"),
        lambda: Cron.expression("* * *"),
        lambda: Cron.expression("not a cron"),
        lambda: Cron.expression(""),
    ],
    ids=["minute-61", "three-fields", "words", "empty"],
)
def test_a_malformed_cron_expression_is_refused(make_schedule: Callable[[], Any]) -> None:
    error = assert_refused(lambda: trax.scheduler.schedule("a", GREET, ADA, make_schedule()))
    assert error.field == "cron_expression"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "make_schedule",
    [
        lambda: Every.seconds(0),
        lambda: Every.minutes(-5),
        lambda: IntervalSchedule(0),
        lambda: IntervalSchedule(-1),
        lambda: Every.seconds(True),
    ],
    ids=["zero-seconds", "negative-minutes", "raw-zero", "raw-negative", "bool"],
)
def test_an_interval_of_zero_or_less_is_refused(make_schedule: Callable[[], Any]) -> None:
    assert_refused(
        lambda: trax.scheduler.schedule("a", GREET, ADA, make_schedule()), field="interval"
    )


@pytest.mark.parametrize("schedule", ["*/5 * * * *", 300, None, timedelta(minutes=5)])
def test_a_schedule_that_is_not_every_or_cron_is_refused(schedule: Any) -> None:
    assert_refused(lambda: trax.scheduler.schedule("a", GREET, ADA, schedule), field="schedule")


@pytest.mark.parametrize("external_id", ["", "   ", None, 7, "x" * 256])
def test_a_bad_external_id_is_refused(external_id: Any) -> None:
    assert_refused(
        lambda: trax.scheduler.schedule(external_id, GREET, ADA, Every.minutes(1)),
        field="external_id",
    )


@pytest.mark.parametrize(
    "bad_input",
    [{}, {"nom": "Ada"}, {"name": 5}, {"name": None}, "Ada", None, ["Ada"]],
    ids=["empty", "wrong-key", "int-name", "none-name", "string", "none", "list"],
)
def test_an_input_that_does_not_match_the_trains_input_type_is_refused(bad_input: Any) -> None:
    interval("existing")

    assert_refused(
        lambda: trax.scheduler.schedule("new", GREET, bad_input, Every.minutes(5)),
        InputValidationError,
    )
    assert_refused(
        lambda: trax.scheduler.schedule("existing", GREET, bad_input, Every.minutes(5)),
        InputValidationError,
    )
    assert_refused(
        lambda: trax.scheduler.schedule_dependent("dep", GREET, bad_input, depends_on="existing"),
        InputValidationError,
    )
    assert_refused(
        lambda: trax.scheduler.schedule_once(GREET, bad_input, delay=5), InputValidationError
    )


@pytest.mark.parametrize("train", ["demo.nope", "", "Greet", "project.trains.Greet", 42, object])
def test_an_unknown_train_is_refused(train: Any) -> None:
    interval("parent")

    assert_refused(
        lambda: trax.scheduler.schedule("a", train, ADA, Every.minutes(5)), UnknownTrainError
    )
    assert_refused(
        lambda: trax.scheduler.schedule_dependent("b", train, ADA, depends_on="parent"),
        UnknownTrainError,
    )
    assert_refused(lambda: trax.scheduler.schedule_once(train, ADA, delay=1), UnknownTrainError)


@dataclass
class Parcel:
    weight: int


def weigh(parcel: Parcel) -> Card:
    return Card(greeting=str(parcel.weight), signed_by="scales")


class Unregistered(trax.Train[Parcel, Card]):
    """A Train class nobody registered: no worker would run it."""

    name = "tests.runtime.unregistered"
    junctions = [weigh]


def test_an_unregistered_train_class_is_refused() -> None:
    assert_refused(
        lambda: trax.scheduler.schedule("a", Unregistered, {"weight": 1}, Every.minutes(5)),
        (UnknownTrainError, ScheduleError),  # type: ignore[arg-type]
    )


# ── trigger ──────────────────────────────────────────────────────────────────────────────────


def test_trigger_queues_an_explicit_entry_due_now_and_returns_its_id() -> None:
    m = interval("a", priority=5)
    before = timezone.now()

    entry_id = trax.scheduler.trigger("a")

    (entry,) = queued("a")
    assert isinstance(entry_id, uuid.UUID) and entry.external_id == entry_id
    assert entry.is_explicit_trigger
    # Due at once: now, or NULL (which the queue reads as "at once").
    assert entry.scheduled_at is None or before <= entry.scheduled_at <= timezone.now()
    assert (entry.train_name, entry.input, entry.priority, entry.manifest_id) == (
        GREET,
        ADA,
        5,
        m.pk,
    )
    (audit,) = audits("manifest.trigger")
    assert (audit.target, audit.detail) == ("manifest:a", {"delay": 0})


@pytest.mark.parametrize("delay", [120, timedelta(minutes=2)], ids=["seconds", "timedelta"])
def test_trigger_with_a_delay_queues_the_entry_that_much_later(delay: Any) -> None:
    interval("a")
    before = timezone.now()

    trax.scheduler.trigger("a", delay=delay)

    (entry,) = queued("a")
    assert entry.scheduled_at is not None
    assert before + timedelta(seconds=120) <= entry.scheduled_at
    assert entry.scheduled_at <= timezone.now() + timedelta(seconds=120)


def occurrence(m: Manifest, at: datetime | None) -> WorkQueue:
    """An entry the manager queued for the manifest's schedule (not a trigger)."""
    return WorkQueue.objects.create(
        train_name=m.train_name, input=m.input, manifest=m, scheduled_at=at
    )


def test_a_trigger_brings_an_already_queued_entry_forward_and_marks_it_explicit() -> None:
    m = interval("a")
    planned = timezone.now() + timedelta(hours=1)
    existing = occurrence(m, planned)

    returned = trax.scheduler.trigger("a")

    (entry,) = queued("a")
    assert entry.pk == existing.pk and returned == existing.external_id
    assert entry.is_explicit_trigger
    assert entry.scheduled_at < planned and entry.scheduled_at <= timezone.now()
    assert WorkQueue.objects.count() == 1


def test_a_delayed_trigger_brings_a_later_queued_entry_forward_to_its_delay() -> None:
    m = interval("a")
    occurrence(m, timezone.now() + timedelta(hours=1))
    before = timezone.now()

    trax.scheduler.trigger("a", delay=60)

    (entry,) = queued("a")
    assert before + timedelta(seconds=60) <= entry.scheduled_at
    assert entry.scheduled_at <= timezone.now() + timedelta(seconds=60)


def test_a_trigger_never_pushes_a_queued_entry_later() -> None:
    m = interval("a")
    planned = timezone.now() + timedelta(seconds=30)
    occurrence(m, planned)

    trax.scheduler.trigger("a", delay=3600)

    (entry,) = queued("a")
    assert entry.scheduled_at == planned and entry.is_explicit_trigger
    assert WorkQueue.objects.count() == 1


def test_a_delayed_trigger_never_pushes_back_an_entry_that_is_due_at_once() -> None:
    m = interval("a")
    letter = dead_letter(m)
    trax.scheduler.retry_dead_letters([letter.pk])
    (entry,) = queued("a")
    assert entry.scheduled_at is None  # due at once

    trax.scheduler.trigger("a", delay=3600)

    (entry,) = queued("a")
    assert entry.scheduled_at is None or entry.scheduled_at <= timezone.now()


def test_trigger_works_on_a_disabled_manifest() -> None:
    interval("a", enabled=False)

    entry_id = trax.scheduler.trigger("a")

    (entry,) = queued("a")
    assert entry.external_id == entry_id and entry.is_explicit_trigger
    assert not manifest("a").is_enabled


def test_trigger_works_on_a_dependent_manifest() -> None:
    interval("a")
    trax.scheduler.schedule_dependent("b", GREET, ADA, depends_on="a")

    trax.scheduler.trigger("b")

    assert len(queued("b")) == 1


def test_trigger_of_an_unknown_manifest_is_refused() -> None:
    interval("a")

    error = assert_refused(lambda: trax.scheduler.trigger("ghost"), UnknownManifestError)
    assert "ghost" in str(error)


@pytest.mark.parametrize("delay", [-1, 1.5, "soon", timedelta(seconds=-1)])
def test_trigger_refuses_a_bad_delay(delay: Any) -> None:
    interval("a")

    assert_refused(lambda: trax.scheduler.trigger("a", delay=delay), field="delay")


def test_trigger_group_queues_enabled_independent_members_with_nothing_queued() -> None:
    interval("free", group="g")
    interval("also-free", group="g")
    interval("off", group="g", enabled=False)
    interval("busy", group="g")
    busy_entry = trax.scheduler.trigger("busy", delay=600)
    trax.scheduler.schedule_dependent("dep", GREET, ADA, depends_on="free", group="g")
    trax.scheduler.schedule_dependent(
        "dormant", GREET, ADA, depends_on="free", group="g", dormant=True
    )
    interval("elsewhere", group="h")
    trax.enqueue(GREET, ADA)  # a one-off entry (no manifest) must not hide the members

    count = trax.scheduler.trigger_group("g")

    assert count == 2
    assert len(queued("free")) == 1 and len(queued("also-free")) == 1
    assert queued("free")[0].is_explicit_trigger
    assert queued("off") == queued("dep") == queued("dormant") == queued("elsewhere") == []
    (entry,) = queued("busy")
    assert entry.external_id == busy_entry


def test_trigger_group_again_queues_nothing_more() -> None:
    interval("a", group="g")
    assert trax.scheduler.trigger_group("g") == 1

    assert trax.scheduler.trigger_group("g") == 0
    assert WorkQueue.objects.count() == 1


def test_trigger_group_of_an_unknown_group_is_refused() -> None:
    interval("a", group="g")

    error = assert_refused(lambda: trax.scheduler.trigger_group("nope"), UnknownGroupError)
    assert "nope" in str(error)


# ── enable / disable ─────────────────────────────────────────────────────────────────────────


def test_disable_switches_the_manifest_off_and_marks_the_change_as_runtime() -> None:
    interval("a")

    trax.scheduler.as_actor("alice").disable("a")

    row = manifest("a")
    assert not row.is_enabled and row.is_enabled_overridden
    (audit,) = audits("manifest.disable")
    assert (audit.actor, audit.target) == ("alice", "manifest:a")


def test_enable_switches_the_manifest_on_and_marks_the_change_as_runtime() -> None:
    interval("a", enabled=False)

    trax.scheduler.as_actor("bob").enable("a")

    row = manifest("a")
    assert row.is_enabled and row.is_enabled_overridden
    (audit,) = audits("manifest.enable")
    assert (audit.actor, audit.target) == ("bob", "manifest:a")


def test_as_actor_leaves_the_default_scheduler_alone() -> None:
    interval("a")

    alice = trax.scheduler.as_actor("alice")
    trax.scheduler.disable("a")

    assert isinstance(alice, Scheduler) and alice is not trax.scheduler
    assert audits("manifest.disable")[0].actor == "api"


@pytest.mark.parametrize("switch", ["enable", "disable"])
def test_switching_an_unknown_manifest_is_refused(switch: str) -> None:
    interval("a")

    assert_refused(lambda: getattr(trax.scheduler, switch)("ghost"), UnknownManifestError)


# ── cancelling ───────────────────────────────────────────────────────────────────────────────


def test_cancel_flags_running_runs_and_cancels_pending_ones_of_the_manifest() -> None:
    m = interval("a")
    other = interval("b")
    pending = run_of(m)
    running = run_of(m, TrainState.IN_PROGRESS)
    done = run_of(m, TrainState.COMPLETED)
    bystander = run_of(other, TrainState.IN_PROGRESS)

    count = trax.scheduler.as_actor("ops").cancel("a")

    assert count == 2
    for row in (pending, running, done, bystander):
        row.refresh_from_db()
    assert pending.train_state == TrainState.CANCELLED and pending.cancellation_requested
    assert running.train_state == TrainState.IN_PROGRESS and running.cancellation_requested
    assert running.cancel_reason == CancelReason.OPERATOR
    assert done.train_state == TrainState.COMPLETED and not done.cancellation_requested
    assert not bystander.cancellation_requested
    (audit,) = audits("manifest.cancel")
    assert (audit.actor, audit.target, audit.detail) == ("ops", "manifest:a", {"runs": 2})


def test_cancel_with_nothing_running_returns_zero() -> None:
    m = interval("a")
    run_of(m, TrainState.COMPLETED)

    assert trax.scheduler.cancel("a") == 0


def test_cancel_of_an_unknown_manifest_is_refused() -> None:
    interval("a")

    assert_refused(lambda: trax.scheduler.cancel("ghost"), UnknownManifestError)


def test_cancel_group_cancels_the_runs_of_every_member() -> None:
    a = interval("a", group="g")
    b = interval("b", group="g")
    c = interval("c", group="h")
    runs = [run_of(a, TrainState.IN_PROGRESS), run_of(b), run_of(c, TrainState.IN_PROGRESS)]

    count = trax.scheduler.cancel_group("g")

    assert count == 2
    for row in runs:
        row.refresh_from_db()
    assert runs[0].cancellation_requested and runs[1].train_state == TrainState.CANCELLED
    assert not runs[2].cancellation_requested
    (audit,) = audits("group.cancel")
    assert audit.target == "group:g"


def test_cancel_group_of_an_unknown_group_is_refused() -> None:
    interval("a", group="g")

    assert_refused(lambda: trax.scheduler.cancel_group("nope"), UnknownGroupError)


@pytest.mark.parametrize("by", ["id", "external_id", "external_id_text"])
def test_cancel_run_cancels_one_run(by: str) -> None:
    m = interval("a")
    target = run_of(m, TrainState.IN_PROGRESS)
    other = run_of(m, TrainState.IN_PROGRESS)
    handle = {
        "id": target.pk,
        "external_id": target.external_id,
        "external_id_text": str(target.external_id),
    }[by]

    assert trax.scheduler.cancel_run(handle) == 1

    target.refresh_from_db()
    other.refresh_from_db()
    assert target.cancellation_requested and not other.cancellation_requested
    (audit,) = audits("run.cancel")
    assert audit.detail == {"runs": 1}


@pytest.mark.parametrize("handle", [987654, str(uuid.UUID(int=7)), "not-a-run"])
def test_cancel_run_of_an_unknown_run_is_refused(handle: Any) -> None:
    m = interval("a")
    run_of(m, TrainState.IN_PROGRESS)

    assert_refused(lambda: trax.scheduler.cancel_run(handle), UnknownRunError)


# ── dead letters ─────────────────────────────────────────────────────────────────────────────


def test_retrying_a_dead_letter_resolves_it_and_queues_the_manifests_input() -> None:
    m = trax.scheduler.schedule("a", GREET, {"name": "Lin"}, Every.minutes(5), priority=3)
    letter = dead_letter(m)

    ids = trax.scheduler.as_actor("ops").retry_dead_letters([letter.pk], note="fixed the API key")

    letter.refresh_from_db()
    assert letter.status == DeadLetterStatus.RETRIED
    assert letter.resolved_at is not None
    assert (letter.resolved_by, letter.resolution_note) == ("ops", "fixed the API key")
    (entry,) = queued("a")
    assert ids == [entry.external_id]
    assert entry.input == {"name": "Lin"} and entry.train_name == GREET
    assert entry.dead_letter_id == letter.pk and entry.priority == 3
    (audit,) = audits("dead_letter.retry")
    assert audit.actor == "ops"


def test_retry_dead_letter_returns_the_new_entrys_id() -> None:
    letter = dead_letter(interval("a"))

    entry_id = trax.scheduler.retry_dead_letter(letter.pk)

    (entry,) = queued("a")
    assert entry_id == entry.external_id


def test_retrying_all_dead_letters_resolves_every_awaiting_one() -> None:
    first = dead_letter(interval("a"))
    second = dead_letter(interval("b"))
    done = dead_letter(interval("c"), DeadLetterStatus.ACKNOWLEDGED)

    ids = trax.scheduler.retry_dead_letters("all")

    assert len(ids) == 2
    assert set(WorkQueue.objects.values_list("external_id", flat=True)) == set(ids)
    assert set(
        DeadLetter.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)
    ) == {DeadLetterStatus.RETRIED}
    done.refresh_from_db()
    assert done.status == DeadLetterStatus.ACKNOWLEDGED and queued("c") == []


def test_retrying_all_with_nothing_awaiting_does_nothing() -> None:
    dead_letter(interval("a"), DeadLetterStatus.RETRIED)

    assert trax.scheduler.retry_dead_letters("all") == []
    assert WorkQueue.objects.count() == 0


def test_retrying_when_the_manifest_already_has_a_queued_entry_adds_no_second_one() -> None:
    m = interval("a")
    letter = dead_letter(m)
    existing = trax.scheduler.trigger("a", delay=60)

    ids = trax.scheduler.retry_dead_letters([letter.pk], note="again")

    letter.refresh_from_db()
    assert letter.status == DeadLetterStatus.RETRIED
    assert ids == []
    (entry,) = queued("a")
    assert entry.external_id == existing


def test_retry_dead_letter_returns_none_when_the_manifest_already_had_an_entry() -> None:
    m = interval("a")
    letter = dead_letter(m)
    trax.scheduler.trigger("a")

    assert trax.scheduler.retry_dead_letter(letter.pk) is None
    assert len(queued("a")) == 1


def test_a_second_retry_of_the_same_dead_letter_is_refused() -> None:
    letter = dead_letter(interval("a"))
    trax.scheduler.retry_dead_letters([letter.pk])

    assert_refused(lambda: trax.scheduler.retry_dead_letters([letter.pk]), UnknownDeadLetterError)
    assert len(queued("a")) == 1


def test_acknowledging_resolves_with_the_note_and_queues_nothing() -> None:
    letter = dead_letter(interval("a"))

    count = trax.scheduler.as_actor("ops").acknowledge_dead_letters(
        [letter.pk], note="upstream retired"
    )

    letter.refresh_from_db()
    assert count == 1
    assert letter.status == DeadLetterStatus.ACKNOWLEDGED and letter.resolved_at is not None
    assert (letter.resolved_by, letter.resolution_note) == ("ops", "upstream retired")
    assert WorkQueue.objects.count() == 0
    (audit,) = audits("dead_letter.acknowledge")
    assert audit.detail["note"] == "upstream retired"


def test_acknowledging_all_resolves_every_awaiting_one() -> None:
    dead_letter(interval("a"))
    dead_letter(interval("b"))

    assert trax.scheduler.acknowledge_dead_letters("all", note="noise") == 2
    assert not DeadLetter.objects.filter(status=DeadLetterStatus.AWAITING_INTERVENTION).exists()


def test_acknowledge_dead_letter_acknowledges_one() -> None:
    letter = dead_letter(interval("a"))
    other = dead_letter(interval("b"))

    assert trax.scheduler.acknowledge_dead_letter(letter.pk, note="ok") == 1

    other.refresh_from_db()
    assert other.status == DeadLetterStatus.AWAITING_INTERVENTION


@pytest.mark.parametrize("note", ["", "   ", None])
def test_acknowledging_needs_a_non_empty_note(note: Any) -> None:
    letter = dead_letter(interval("a"))

    assert_refused(
        lambda: trax.scheduler.acknowledge_dead_letters([letter.pk], note=note), field="note"
    )
    assert_refused(
        lambda: trax.scheduler.acknowledge_dead_letter(letter.pk, note=note), field="note"
    )


@pytest.mark.parametrize("resolution", ["retry", "acknowledge"])
@pytest.mark.parametrize(
    "which", ["unknown", "known-and-unknown", "already-retried", "already-acknowledged"]
)
def test_resolving_unknown_or_resolved_dead_letters_is_refused_and_changes_nothing(
    resolution: str, which: str
) -> None:
    awaiting = dead_letter(interval("a"))
    retried = dead_letter(interval("b"), DeadLetterStatus.RETRIED)
    acknowledged = dead_letter(interval("c"), DeadLetterStatus.ACKNOWLEDGED)
    ids = {
        "unknown": [987654],
        "known-and-unknown": [awaiting.pk, 987654],
        "already-retried": [retried.pk],
        "already-acknowledged": [awaiting.pk, acknowledged.pk],
    }[which]

    def resolve() -> object:
        if resolution == "retry":
            return trax.scheduler.retry_dead_letters(ids, note="x")
        return trax.scheduler.acknowledge_dead_letters(ids, note="x")

    assert_refused(resolve, UnknownDeadLetterError)


@pytest.mark.parametrize("ids", ["3", b"3", [True], [1.0], ["1"], "everything"])
def test_dead_letter_ids_must_be_ints_or_all(ids: Any) -> None:
    dead_letter(interval("a"))

    assert_refused(lambda: trax.scheduler.retry_dead_letters(ids), field="ids")
    assert_refused(lambda: trax.scheduler.acknowledge_dead_letters(ids, note="x"), field="ids")


def test_a_caller_writing_its_own_audit_row_may_act_unaudited() -> None:
    trax.scheduler.schedule("quiet", Greet, Person("q"), trax.Every.minutes(5), group="g")
    before = Audit.objects.count()
    quiet = trax.scheduler.as_actor("console-user", audited=False)

    quiet.trigger("quiet")
    quiet.disable("quiet")
    quiet.enable("quiet")
    quiet.cancel("quiet")
    quiet.trigger_group("g")
    quiet.cancel_group("g")

    assert Audit.objects.count() == before
    assert WorkQueue.objects.filter(manifest__external_id="quiet").exists()
    trax.scheduler.as_actor("someone").disable("quiet")
    assert Audit.objects.latest("id").actor == "someone"
