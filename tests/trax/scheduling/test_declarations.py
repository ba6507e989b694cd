"""Startup declarations: schedule, include, then_include and their batch forms (no database)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import trax
from trax.core import InputValidationError
from trax.models.choices import ScheduleType
from trax.registry import UnknownTrainError
from trax.scheduling import declarations
from trax.scheduling.declarations import (
    ManifestDeclaration,
    ManifestItem,
    ScheduleBuilder,
    reset_default_builder,
    schedules,
)
from trax.scheduling.errors import DeclarationOrderError, DependencyCycleError, ScheduleError
from trax.scheduling.options import Group, ScheduleOptions
from trax.scheduling.schedules import Cron, CronSchedule, Every, IntervalSchedule

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class ExtractIn:
    index: int = 0


@dataclass
class TransformIn:
    index: int = 0


@dataclass
class LoadIn:
    partition: int = 0


@dataclass
class ValidateIn:
    strict: bool = False


def extract(value: ExtractIn) -> ExtractIn:
    return value


def transform(value: TransformIn) -> TransformIn:
    return value


def load(value: LoadIn) -> LoadIn:
    return value


def validate(value: ValidateIn) -> ValidateIn:
    return value


class Extract(trax.Train[ExtractIn, ExtractIn]):
    name = "tests.declarations.extract"
    junctions = [extract]


class Transform(trax.Train[TransformIn, TransformIn]):
    name = "tests.declarations.transform"
    junctions = [transform]


class Load(trax.Train[LoadIn, LoadIn]):
    name = "tests.declarations.load"
    junctions = [load]


class Validate(trax.Train[ValidateIn, ValidateIn]):
    name = "tests.declarations.validate"
    junctions = [validate]


@pytest.fixture
def builder() -> ScheduleBuilder:
    return ScheduleBuilder(clock=lambda: NOW)


def parents(builder: ScheduleBuilder) -> dict[str, str | None]:
    return {d.external_id: d.depends_on for d in builder.declarations}


def ids(builder: ScheduleBuilder) -> list[str]:
    return [d.external_id for d in builder.declarations]


def items(prefix: str, n: int, make: Any, depends_on: Any = None) -> list[ManifestItem]:
    return [
        ManifestItem(
            f"{prefix}{i}", make(i), depends_on=None if depends_on is None else depends_on(i)
        )
        for i in range(n)
    ]


def snapshot(builder: ScheduleBuilder) -> tuple[Any, ...]:
    return (list(builder.declarations), set(builder.prune_prefixes), builder.root, builder.cursor)


# ── schedule ──────────────────────────────────────────────────────────────────────────────────


def test_schedule_declares_an_interval_manifest_with_json_input(builder: ScheduleBuilder) -> None:
    builder.schedule("extract", Extract, ExtractIn(3), Every.minutes(5), priority=4)

    [declaration] = builder.declarations
    assert declaration == ManifestDeclaration(
        external_id="extract",
        train_name="tests.declarations.extract",
        input={"index": 3},
        schedule_type=ScheduleType.INTERVAL,
        interval_seconds=300,
        cron_expression="",
        run_at=None,
        depends_on=None,
        options=ScheduleOptions(priority=4),
        group_name="extract",
    )
    assert builder.prune_prefixes == set()


def test_schedule_on_a_cron_stores_the_normalised_expression(builder: ScheduleBuilder) -> None:
    cron = Cron.daily(hour=3)
    builder.schedule("nightly", Extract, ExtractIn(), cron, timezone="Europe/Paris")

    [declaration] = builder.declarations
    assert isinstance(cron, CronSchedule)
    assert declaration.schedule_type == ScheduleType.CRON
    assert declaration.cron_expression == cron.expression
    assert len(declaration.cron_expression.split()) == 6
    assert declaration.interval_seconds is None
    assert declaration.options.timezone == "Europe/Paris"


def test_json_like_input_is_validated_and_stored_as_json(builder: ScheduleBuilder) -> None:
    builder.schedule("extract", Extract, {"index": "7"}, Every.seconds(30))

    assert builder.declarations[0].input == {"index": 7}


def test_a_registered_train_name_resolves_to_its_class(builder: ScheduleBuilder) -> None:
    builder.schedule("greet", "demo.greet", {"name": "Ada"}, Every.hours(1))

    assert builder.declarations[0].train_name == "demo.greet"
    assert builder.declarations[0].input == {"name": "Ada"}


def test_an_unknown_train_name_is_refused(builder: ScheduleBuilder) -> None:
    with pytest.raises(UnknownTrainError, match="no-such-train"):
        builder.schedule("x", "no-such-train", {}, Every.minutes(1))
    assert builder.declarations == []


def test_something_that_is_not_a_train_is_refused(builder: ScheduleBuilder) -> None:
    with pytest.raises(UnknownTrainError):
        builder.schedule("x", object, {}, Every.minutes(1))  # type: ignore[arg-type]


def test_the_group_defaults_to_the_external_id_and_follows_group_when_given(
    builder: ScheduleBuilder,
) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1))
    builder.schedule("b", Extract, ExtractIn(), Every.minutes(1), group="etl")
    builder.schedule("c", Extract, ExtractIn(), Every.minutes(1), group=Group("etl", 3))

    assert [d.group_name for d in builder.declarations] == ["a", "etl", "etl"]
    assert builder.get("c").options.group == Group("etl", max_active_jobs=3)


def test_every_option_reaches_the_declaration(builder: ScheduleBuilder) -> None:
    builder.schedule(
        "a",
        Extract,
        ExtractIn(),
        Every.minutes(1),
        priority=31,
        enabled=False,
        max_retries=2,
        retry_delay=timedelta(seconds=10),
        timeout=60,
        misfire_policy="do_nothing",
        misfire_threshold=5,
        variance=3,
        timezone="UTC",
    )

    options = builder.declarations[0].options
    assert (options.priority, options.is_enabled, options.max_retries) == (31, False, 2)
    assert (options.retry_delay_seconds, options.timeout_seconds) == (10, 60)
    assert (options.misfire_policy, options.misfire_threshold_seconds) == ("do_nothing", 5)
    assert (options.variance_seconds, options.timezone) == (3, "UTC")


def test_calls_chain_and_keep_declaration_order(builder: ScheduleBuilder) -> None:
    returned = (
        builder.schedule("one", Extract, ExtractIn(), Every.minutes(1))
        .schedule("two", Extract, ExtractIn(), Every.minutes(1))
        .manual("three", Extract, ExtractIn())
    )

    assert returned is builder
    assert ids(builder) == ["one", "two", "three"]
    assert len(builder) == 3 and "two" in builder and "four" not in builder


# ── validation: each failing call changes nothing ─────────────────────────────────────────────


@pytest.mark.parametrize(
    ("external_id", "message"),
    [
        ("", "non-empty"),
        ("   ", "non-empty"),
        (None, "non-empty"),
        (42, "non-empty"),
        ("x" * 256, "at most 255"),
    ],
)
def test_a_bad_external_id_is_refused(
    builder: ScheduleBuilder, external_id: Any, message: str
) -> None:
    builder.schedule("first", Extract, ExtractIn(), Every.minutes(1))
    before = snapshot(builder)

    with pytest.raises(ScheduleError, match=message) as caught:
        builder.schedule(external_id, Extract, ExtractIn(), Every.minutes(1))

    assert caught.value.field == "external_id"
    assert snapshot(builder) == before


def test_an_external_id_of_exactly_255_characters_is_fine(builder: ScheduleBuilder) -> None:
    builder.schedule("x" * 255, Extract, ExtractIn(), Every.minutes(1))

    assert len(builder) == 1


def test_declaring_an_external_id_twice_is_refused(builder: ScheduleBuilder) -> None:
    builder.schedule("extract", Extract, ExtractIn(), Every.minutes(1))
    before = snapshot(builder)

    with pytest.raises(ScheduleError, match="'extract' is declared twice") as caught:
        builder.manual("extract", Extract, ExtractIn())

    assert caught.value.field == "external_id"
    assert snapshot(builder) == before


@pytest.mark.parametrize(
    "bad_input",
    [TransformIn(1), {"index": "not a number"}, {"index": [1]}, "extract", None],
)
def test_input_that_does_not_match_the_train_input_type_is_refused(
    builder: ScheduleBuilder, bad_input: Any
) -> None:
    with pytest.raises(InputValidationError, match=r"input of 'extract'.*ExtractIn"):
        builder.schedule("extract", Extract, bad_input, Every.minutes(1))

    assert builder.declarations == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"priority": 32}, "priority"),
        ({"priority": -1}, "priority"),
        ({"max_retries": -1}, "max_retries"),
        ({"timeout": 0}, "timeout_seconds"),
        ({"retry_delay": 1.5}, "retry_delay"),
        ({"misfire_policy": "sometimes"}, "misfire_policy"),
        ({"group": ""}, "group"),
        ({"enabled": "yes"}, "is_enabled"),
    ],
)
def test_bad_options_are_refused_with_the_field_named(
    builder: ScheduleBuilder, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(ScheduleError) as caught:
        builder.schedule("extract", Extract, ExtractIn(), Every.minutes(1), **options)

    assert caught.value.field == field
    assert builder.declarations == []


def test_an_unknown_time_zone_is_refused(builder: ScheduleBuilder) -> None:
    with pytest.raises(ScheduleError):
        builder.schedule("x", Extract, ExtractIn(), Every.minutes(1), timezone="Mars/Olympus")

    assert builder.declarations == []


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("schedule", lambda b: b.schedule("x", Extract, ExtractIn(), Every.minutes(1), prio=1)),
        ("schedule_once", lambda b: b.schedule_once("x", Extract, ExtractIn(), delay=1, prio=1)),
        ("manual", lambda b: b.manual("x", Extract, ExtractIn(), prio=1)),
        ("include", lambda b: b.include("x", Extract, ExtractIn(), prio=1)),
        ("then_include", lambda b: b.then_include("x", Extract, ExtractIn(), prio=1)),
        ("schedule_many", lambda b: b.schedule_many(Extract, [], Every.minutes(1), prio=1)),
        ("include_many", lambda b: b.include_many(Extract, [], prio=1)),
        ("then_include_many", lambda b: b.then_include_many(Extract, [], prio=1)),
    ],
)
def test_an_unknown_option_is_refused_by_name_with_a_suggestion(
    builder: ScheduleBuilder, method: str, call: Any
) -> None:
    with pytest.raises(ScheduleError, match=rf"{method}\(\) got an unknown option 'prio'") as e:
        call(builder)

    assert "did you mean 'priority'?" in str(e.value)
    assert e.value.field == "prio"
    assert builder.declarations == []


@pytest.mark.parametrize("schedule", [300, "*/5 * * * *", timedelta(minutes=5), None, Cron, Every])
def test_a_schedule_that_is_not_every_or_cron_is_refused(
    builder: ScheduleBuilder, schedule: Any
) -> None:
    with pytest.raises(ScheduleError, match="schedule must be") as caught:
        builder.schedule("x", Extract, ExtractIn(), schedule)
    assert caught.value.field == "schedule"

    with pytest.raises(ScheduleError, match="schedule must be"):
        builder.schedule_many(Extract, [ManifestItem("y", ExtractIn())], schedule)

    assert builder.declarations == []


# ── schedule_once and manual ──────────────────────────────────────────────────────────────────


def test_schedule_once_at_an_aware_time(builder: ScheduleBuilder) -> None:
    at = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    builder.schedule_once("report", Extract, ExtractIn(), run_at=at)

    [declaration] = builder.declarations
    assert declaration.schedule_type == ScheduleType.ONCE
    assert declaration.run_at == at
    assert (declaration.interval_seconds, declaration.cron_expression) == (None, "")


@pytest.mark.parametrize(
    ("delay", "expected"),
    [(timedelta(minutes=10), NOW + timedelta(minutes=10)), (90, NOW + timedelta(seconds=90))],
)
def test_schedule_once_after_a_delay_counts_from_the_declaration(
    builder: ScheduleBuilder, delay: Any, expected: datetime
) -> None:
    builder.schedule_once("report", Extract, ExtractIn(), delay=delay)

    assert builder.declarations[0].run_at == expected


def test_schedule_once_without_a_clock_uses_aware_utc_now() -> None:
    builder = ScheduleBuilder()
    builder.schedule_once("report", Extract, ExtractIn(), delay=0)

    run_at = builder.declarations[0].run_at
    assert run_at is not None and run_at.tzinfo is not None
    assert abs(run_at - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of run_at or delay"),
        ({"run_at": NOW, "delay": 5}, "exactly one of run_at or delay"),
        ({"run_at": datetime(2030, 1, 1, 9, 0)}, "aware"),
        ({"run_at": "2030-01-01T09:00:00Z"}, "must be a datetime"),
        ({"delay": -1}, "delay"),
        ({"delay": 1.5}, "delay"),
        ({"delay": True}, "delay"),
    ],
)
def test_schedule_once_refuses_a_missing_or_bad_time(
    builder: ScheduleBuilder, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ScheduleError, match=message):
        builder.schedule_once("report", Extract, ExtractIn(), **kwargs)

    assert snapshot(builder) == ([], set(), None, None)


def test_manual_declares_a_manifest_that_never_runs_by_itself(builder: ScheduleBuilder) -> None:
    builder.manual("backfill", Extract, ExtractIn(), group="ops")

    [declaration] = builder.declarations
    assert declaration.schedule_type == ScheduleType.MANUAL
    assert (declaration.interval_seconds, declaration.cron_expression) == (None, "")
    assert (declaration.run_at, declaration.depends_on) == (None, None)
    assert declaration.group_name == "ops"


# ── dormant ───────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("method", "call"),
    [
        (
            "schedule",
            lambda b: b.schedule("x", Extract, ExtractIn(), Every.minutes(1), dormant=True),
        ),
        (
            "schedule_once",
            lambda b: b.schedule_once("x", Extract, ExtractIn(), delay=1, dormant=True),
        ),
        ("manual", lambda b: b.manual("x", Extract, ExtractIn(), dormant=True)),
        ("schedule_many", lambda b: b.schedule_many(Extract, [], Every.minutes(1), dormant=True)),
    ],
)
def test_dormant_is_refused_on_anything_but_a_dependent(
    builder: ScheduleBuilder, method: str, call: Any
) -> None:
    with pytest.raises(ScheduleError, match=rf"only for dependents.*not {method}\(\)") as caught:
        call(builder)

    assert caught.value.field == "dormant"
    assert builder.declarations == []


def test_dormant_makes_a_dormant_dependent_on_every_dependent_form(
    builder: ScheduleBuilder,
) -> None:
    (
        builder.schedule("parent", Extract, ExtractIn(), Every.minutes(5))
        .include("child", Transform, TransformIn(), dormant=True)
        .then_include("grandchild", Load, LoadIn(), dormant=True)
        .include_many(Validate, [ManifestItem("v", ValidateIn())], dormant=True)
        .then_include_many(
            Load, [ManifestItem("l", LoadIn(), depends_on="v")], name="loads", dormant=True
        )
        .include("awake", Transform, TransformIn(), dormant=False)
    )

    types = {d.external_id: d.schedule_type for d in builder.declarations}
    assert types == {
        "parent": ScheduleType.INTERVAL,
        "child": ScheduleType.DORMANT_DEPENDENT,
        "grandchild": ScheduleType.DORMANT_DEPENDENT,
        "v": ScheduleType.DORMANT_DEPENDENT,
        "loads-l": ScheduleType.DORMANT_DEPENDENT,
        "awake": ScheduleType.DEPENDENT,
    }
    assert builder.get("child").options.dormant is True


def test_dormant_must_be_a_bool(builder: ScheduleBuilder) -> None:
    builder.schedule("parent", Extract, ExtractIn(), Every.minutes(5))

    with pytest.raises(ScheduleError, match="dormant must be True or False"):
        builder.include("child", Transform, TransformIn(), dormant="yes")


# ── the seed's examples ───────────────────────────────────────────────────────────────────────


def test_then_include_chains_a_to_b_to_c(builder: ScheduleBuilder) -> None:
    (
        builder.schedule(
            "etl-extract", Extract, ExtractIn(), Every.minutes(5), group="etl-pipeline"
        )
        .then_include("etl-transform", Transform, TransformIn(), group="etl-pipeline", priority=5)
        .then_include("etl-load", Load, LoadIn(), group="etl-pipeline")
    )

    assert parents(builder) == {
        "etl-extract": None,
        "etl-transform": "etl-extract",
        "etl-load": "etl-transform",
    }
    dependents = builder.declarations[1:]
    assert all(d.schedule_type == ScheduleType.DEPENDENT for d in dependents)
    assert all(d.interval_seconds is None and d.cron_expression == "" for d in dependents)
    assert {d.group_name for d in builder.declarations} == {"etl-pipeline"}
    assert builder.get("etl-transform").options.priority == 5
    builder.check()


def test_include_fans_out_from_the_root(builder: ScheduleBuilder) -> None:
    (
        builder.schedule("extract", Extract, ExtractIn(), Every.hours(1), group="etl")
        .include("transform", Transform, TransformIn(), group="etl")
        .include("validate", Validate, ValidateIn(), group="etl")
    )

    assert parents(builder) == {"extract": None, "transform": "extract", "validate": "extract"}
    assert (builder.root, builder.cursor) == ("extract", "validate")


def test_include_and_then_include_mix_fan_out_and_chaining(builder: ScheduleBuilder) -> None:
    (
        builder.schedule("extract", Extract, ExtractIn(), Every.hours(1), group="etl")
        .include("transform", Transform, TransformIn(), group="etl")
        .then_include("load", Load, LoadIn(), group="etl")
        .include("validate", Validate, ValidateIn(), group="etl")
    )

    assert parents(builder) == {
        "extract": None,
        "transform": "extract",
        "load": "transform",
        "validate": "extract",
    }


def test_a_batch_dependent_maps_extract_i_to_transform_i(builder: ScheduleBuilder) -> None:
    builder.schedule_many(
        Extract, items("", 10, ExtractIn), Every.minutes(5), name="extract"
    ).include_many(
        Transform,
        items("", 10, TransformIn, depends_on=lambda i: f"extract-{i}"),
        name="transform",
    )

    assert ids(builder) == [f"extract-{i}" for i in range(10)] + [
        f"transform-{i}" for i in range(10)
    ]
    assert parents(builder) == {
        **{f"extract-{i}": None for i in range(10)},
        **{f"transform-{i}": f"extract-{i}" for i in range(10)},
    }
    assert builder.get("transform-4").input == {"index": 4}
    assert builder.get("extract-4").schedule_type == ScheduleType.INTERVAL
    assert builder.get("extract-4").interval_seconds == 300
    assert builder.get("transform-4").schedule_type == ScheduleType.DEPENDENT
    assert {builder.get(f"extract-{i}").group_name for i in range(10)} == {"extract"}
    assert {builder.get(f"transform-{i}").group_name for i in range(10)} == {"transform"}
    assert builder.prune_prefixes == {"extract-", "transform-"}
    builder.check()


def test_a_batch_fans_out_from_the_root(builder: ScheduleBuilder) -> None:
    builder.schedule(
        "extract-all", Extract, ExtractIn(), Every.hours(1), group="extract"
    ).include_many(Load, items("load-", 10, LoadIn))

    assert parents(builder) == {
        "extract-all": None,
        **{f"load-{i}": "extract-all" for i in range(10)},
    }
    assert builder.get("load-7").input == {"partition": 7}
    # unnamed: no prune prefix, and each manifest is its own group
    assert builder.prune_prefixes == set()
    assert builder.get("load-7").group_name == "load-7"


def test_then_include_many_chains_a_batch_after_a_batch(builder: ScheduleBuilder) -> None:
    (
        builder.schedule_many(Extract, items("", 3, ExtractIn), Every.minutes(5), name="extract")
        .include_many(
            Transform,
            items("", 3, TransformIn, depends_on=lambda i: f"extract-{i}"),
            name="transform",
        )
        .then_include_many(
            Load, items("", 3, LoadIn, depends_on=lambda i: f"transform-{i}"), name="load"
        )
    )

    assert {k: v for k, v in parents(builder).items() if k.startswith("load-")} == {
        f"load-{i}": f"transform-{i}" for i in range(3)
    }
    assert builder.prune_prefixes == {"extract-", "transform-", "load-"}
    builder.check()


# ── root and cursor ───────────────────────────────────────────────────────────────────────────


def test_then_include_first_is_an_order_error(builder: ScheduleBuilder) -> None:
    with pytest.raises(
        DeclarationOrderError, match="then_include must follow schedule, include or then_include"
    ):
        builder.then_include("b", Transform, TransformIn())

    assert builder.declarations == []


def test_include_without_a_root_is_an_order_error(builder: ScheduleBuilder) -> None:
    with pytest.raises(DeclarationOrderError, match=r"include\('b'\) must follow schedule"):
        builder.include("b", Transform, TransformIn())

    assert builder.declarations == []


def test_schedule_sets_the_root_and_the_cursor(builder: ScheduleBuilder) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1))

    assert (builder.root, builder.cursor) == ("a", "a")


def test_include_and_then_include_move_the_cursor_and_keep_the_root(
    builder: ScheduleBuilder,
) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1))
    builder.include("b", Transform, TransformIn())
    assert (builder.root, builder.cursor) == ("a", "b")
    builder.then_include("c", Load, LoadIn())
    assert (builder.root, builder.cursor) == ("a", "c")


def test_a_later_schedule_becomes_the_new_root(builder: ScheduleBuilder) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1))
    builder.include("b", Transform, TransformIn())
    builder.schedule("x", Extract, ExtractIn(), Every.minutes(1))
    builder.include("y", Transform, TransformIn())
    builder.then_include("z", Load, LoadIn())

    assert parents(builder) == {"a": None, "b": "a", "x": None, "y": "x", "z": "y"}


def test_schedule_many_resets_the_root_and_the_cursor(builder: ScheduleBuilder) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1))
    builder.schedule_many(Extract, items("e", 2, ExtractIn), Every.minutes(1))

    assert (builder.root, builder.cursor) == (None, None)
    with pytest.raises(DeclarationOrderError):
        builder.include("b", Transform, TransformIn())
    with pytest.raises(DeclarationOrderError):
        builder.then_include("b", Transform, TransformIn())
    assert ids(builder) == ["a", "e0", "e1"]


@pytest.mark.parametrize("method", ["schedule_once", "manual"])
def test_schedule_once_and_manual_act_as_roots_for_dependents(
    builder: ScheduleBuilder, method: str
) -> None:
    if method == "schedule_once":
        builder.schedule_once("a", Extract, ExtractIn(), delay=60)
    else:
        builder.manual("a", Extract, ExtractIn())
    builder.include("b", Transform, TransformIn()).then_include("c", Load, LoadIn())
    builder.include_many(Validate, [ManifestItem("d", ValidateIn())])

    assert parents(builder) == {"a": None, "b": "a", "c": "b", "d": "a"}


def test_include_many_resets_the_cursor_but_keeps_the_root(builder: ScheduleBuilder) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1))
    builder.include_many(Transform, items("t", 2, TransformIn))

    assert (builder.root, builder.cursor) == ("a", None)
    with pytest.raises(DeclarationOrderError, match="then_include must follow"):
        builder.then_include("c", Load, LoadIn())
    builder.include("v", Validate, ValidateIn())
    assert parents(builder)["v"] == "a"
    assert builder.cursor == "v"


def test_then_include_many_resets_the_cursor_but_keeps_the_root(
    builder: ScheduleBuilder,
) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1))
    builder.then_include_many(Transform, [ManifestItem("t", TransformIn(), depends_on="a")])

    assert (builder.root, builder.cursor) == ("a", None)
    with pytest.raises(DeclarationOrderError):
        builder.then_include("c", Load, LoadIn())


def test_include_many_with_depends_on_on_every_item_needs_no_root(
    builder: ScheduleBuilder,
) -> None:
    builder.include_many(Transform, [ManifestItem("t", TransformIn(), depends_on="somewhere")])

    assert parents(builder) == {"t": "somewhere"}


def test_include_many_mixes_explicit_parents_and_the_root(builder: ScheduleBuilder) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1))
    builder.schedule("b", Extract, ExtractIn(), Every.minutes(1))
    builder.include_many(
        Transform,
        [ManifestItem("t1", TransformIn(), depends_on="a"), ManifestItem("t2", TransformIn())],
    )

    assert parents(builder)["t1"] == "a"
    assert parents(builder)["t2"] == "b"


def test_include_many_item_without_depends_on_and_no_root_is_named(
    builder: ScheduleBuilder,
) -> None:
    batch = [
        ManifestItem("0", TransformIn(), depends_on="extract-0"),
        ManifestItem("1", TransformIn()),
    ]

    with pytest.raises(DeclarationOrderError, match="item 'transform-1' has no depends_on"):
        builder.include_many(Transform, batch, name="transform")

    assert snapshot(builder) == ([], set(), None, None)


def test_then_include_many_item_without_depends_on_is_named(builder: ScheduleBuilder) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1))
    before = snapshot(builder)
    batch = [ManifestItem("t0", TransformIn(), depends_on="a"), ManifestItem("t1", TransformIn())]

    with pytest.raises(
        DeclarationOrderError, match=r"then_include_many needs depends_on on every item.*'t1'"
    ):
        builder.then_include_many(Transform, batch)

    assert snapshot(builder) == before


# ── batches ───────────────────────────────────────────────────────────────────────────────────


def test_an_unnamed_batch_uses_item_ids_as_external_ids(builder: ScheduleBuilder) -> None:
    builder.schedule_many(Extract, items("batch-item-", 3, ExtractIn), Cron.hourly())

    assert ids(builder) == ["batch-item-0", "batch-item-1", "batch-item-2"]
    assert [d.group_name for d in builder.declarations] == ids(builder)
    assert {d.schedule_type for d in builder.declarations} == {ScheduleType.CRON}
    assert builder.prune_prefixes == set()


def test_an_unnamed_batch_shares_a_group_when_given(builder: ScheduleBuilder) -> None:
    builder.schedule_many(Extract, items("e", 2, ExtractIn), Every.minutes(1), group="shared")

    assert {d.group_name for d in builder.declarations} == {"shared"}


def test_a_named_batch_prefers_an_explicit_group_over_its_name(builder: ScheduleBuilder) -> None:
    builder.schedule_many(
        Extract, items("", 2, ExtractIn), Every.minutes(1), name="extract", group="etl"
    )

    assert {d.group_name for d in builder.declarations} == {"etl"}
    assert builder.prune_prefixes == {"extract-"}


def test_a_named_batch_of_no_items_still_prunes_its_prefix(builder: ScheduleBuilder) -> None:
    builder.schedule_many(Extract, [], Every.minutes(1), name="retired")

    assert builder.declarations == []
    assert builder.prune_prefixes == {"retired-"}


def test_batch_items_may_be_any_iterable(builder: ScheduleBuilder) -> None:
    builder.schedule_many(
        Extract, (ManifestItem(str(i), {"index": i}) for i in range(2)), Every.minutes(1)
    )

    assert ids(builder) == ["0", "1"]


def test_a_batch_with_a_bad_item_declares_none_of_its_items(builder: ScheduleBuilder) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1))
    before = snapshot(builder)
    batch = [ManifestItem("0", ExtractIn(0)), ManifestItem("1", {"index": "x"})]

    with pytest.raises(InputValidationError, match="input of 'extract-1'"):
        builder.schedule_many(Extract, batch, Every.minutes(1), name="extract")

    assert snapshot(builder) == before


@pytest.mark.parametrize(
    ("batch", "name", "field", "message"),
    [
        (
            [ManifestItem("0", ExtractIn()), ManifestItem("0", ExtractIn())],
            None,
            "external_id",
            "'0' is declared twice",
        ),
        ([ManifestItem("a", ExtractIn())], None, "external_id", "'a' is declared twice"),
        ([ManifestItem("", ExtractIn())], "x", "external_id", "non-empty string id"),
        ([ManifestItem(7, ExtractIn())], None, "external_id", "non-empty string id"),  # type: ignore[arg-type]
        ([ManifestItem("y" * 251, ExtractIn())], "long", "external_id", "at most 255"),
        ([("0", ExtractIn())], None, "items", "item 0 must be a ManifestItem"),
        ("abc", None, "items", "iterable of ManifestItem"),
        (None, None, "items", "iterable of ManifestItem"),
        ([ManifestItem("0", ExtractIn())], "", "name", "name must be a non-empty string"),
        ([ManifestItem("0", ExtractIn())], 5, "name", "name must be a non-empty string"),
        (
            [ManifestItem("0", ExtractIn(), depends_on="a")],
            None,
            "depends_on",
            "scheduled manifests have no parent",
        ),
    ],
)
def test_schedule_many_refuses_bad_items(
    builder: ScheduleBuilder, batch: Any, name: Any, field: str, message: str
) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1))
    before = snapshot(builder)

    with pytest.raises(ScheduleError, match=message) as caught:
        builder.schedule_many(Extract, batch, Every.minutes(1), name=name)

    assert caught.value.field == field
    assert snapshot(builder) == before


def test_a_batch_item_depending_on_itself_is_refused(builder: ScheduleBuilder) -> None:
    with pytest.raises(ScheduleError, match="'t-0' cannot depend on itself") as caught:
        builder.include_many(Transform, [ManifestItem("0", TransformIn(), "t-0")], name="t")

    assert caught.value.field == "depends_on"
    assert builder.declarations == []


@pytest.mark.parametrize("depends_on", ["", "  ", 3, "p" * 256])
def test_a_bad_depends_on_is_refused(builder: ScheduleBuilder, depends_on: Any) -> None:
    with pytest.raises(ScheduleError) as caught:
        builder.then_include_many(Transform, [ManifestItem("t", TransformIn(), depends_on)])

    assert caught.value.field == "depends_on"
    assert builder.declarations == []


def test_an_include_reusing_the_root_id_is_a_duplicate(builder: ScheduleBuilder) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1))

    with pytest.raises(ScheduleError, match="declared twice"):
        builder.include("a", Transform, TransformIn())


def test_a_failed_dependent_call_leaves_root_and_cursor_alone(builder: ScheduleBuilder) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1)).include(
        "b", Transform, TransformIn()
    )
    before = snapshot(builder)

    with pytest.raises(InputValidationError):
        builder.then_include("c", Load, {"partition": "many"})
    with pytest.raises(ScheduleError):
        builder.include_many(Load, [ManifestItem("d", LoadIn())], priority=99)

    assert snapshot(builder) == before


# ── check() ───────────────────────────────────────────────────────────────────────────────────


def test_check_accepts_a_dag_across_groups(builder: ScheduleBuilder) -> None:
    (
        builder.schedule("extract", Extract, ExtractIn(), Every.minutes(1), group="in")
        .then_include("transform", Transform, TransformIn(), group="mid")
        .then_include("load", Load, LoadIn(), group="out")
    )

    builder.check()


def test_check_refuses_a_manifest_cycle_made_through_batch_items(
    builder: ScheduleBuilder,
) -> None:
    builder.include_many(Transform, [ManifestItem("t", TransformIn(), depends_on="l")])
    builder.then_include_many(Load, [ManifestItem("l", LoadIn(), depends_on="t")])

    with pytest.raises(DependencyCycleError) as caught:
        builder.check()

    assert set(caught.value.members) >= {"t", "l"}


def test_check_refuses_a_cycle_between_groups(builder: ScheduleBuilder) -> None:
    builder.schedule("a1", Extract, ExtractIn(), Every.minutes(1), group="A")
    builder.include("b1", Transform, TransformIn(), group="B")
    builder.schedule("b2", Extract, ExtractIn(), Every.minutes(1), group="B")
    builder.include("a2", Transform, TransformIn(), group="A")

    with pytest.raises(DependencyCycleError) as caught:
        builder.check()

    assert set(caught.value.members) >= {"A", "B"}


def test_dependencies_within_one_group_are_fine(builder: ScheduleBuilder) -> None:
    builder.schedule("a", Extract, ExtractIn(), Every.minutes(1), group="etl")
    builder.then_include("b", Transform, TransformIn(), group="etl")
    builder.then_include("c", Load, LoadIn(), group="etl")

    builder.check()


# ── the default builder ───────────────────────────────────────────────────────────────────────


def test_the_default_builder_is_a_schedule_builder() -> None:
    assert isinstance(schedules, ScheduleBuilder)
    assert declarations.schedules is schedules


def test_reset_default_builder_empties_it_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in = ScheduleBuilder()
    monkeypatch.setattr(declarations, "schedules", stand_in)
    stand_in.schedule("a", Extract, ExtractIn(), Every.minutes(1)).schedule_many(
        Extract, items("", 1, ExtractIn), Every.minutes(1), name="e"
    )

    reset_default_builder()

    assert declarations.schedules is stand_in
    assert snapshot(stand_in) == ([], set(), None, None)
    assert "a" not in stand_in
    stand_in.schedule("a", Extract, ExtractIn(), Every.minutes(1))  # the id is free again


def test_interval_schedules_reach_the_declaration_in_seconds(builder: ScheduleBuilder) -> None:
    builder.schedule("s", Extract, ExtractIn(), Every.seconds(30))
    builder.schedule("d", Extract, ExtractIn(), Every.days(1))

    assert isinstance(Every.seconds(30), IntervalSchedule)
    assert [d.interval_seconds for d in builder.declarations] == [30, 86400]
