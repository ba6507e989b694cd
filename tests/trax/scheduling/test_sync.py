"""The start-up sync: declarations written to ``trax_manifest`` by external id, in one
transaction (``save_declarations`` and ``ManagerService.sync``).

Code owns the fields it declares, except ``is_enabled`` once it was changed at runtime; a re-sync
never pushes ``next_run_at`` back; only manifests declared in code are pruned."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import trax
from trax.effects.from_settings import default_service
from trax.manager.service import ManagerService, ManagerServiceConfig
from trax.models import (
    Audit,
    DeadLetter,
    DeadLetterStatus,
    Manifest,
    ManifestGroup,
    Metadata,
    ScheduleType,
    TrainState,
    WorkQueue,
)
from trax.scheduling.declarations import ManifestItem, ScheduleBuilder
from trax.scheduling.errors import DependencyCycleError, ScheduleError
from trax.scheduling.manifests import SaveReport, save_declarations
from trax.scheduling.schedules import Cron, Every, next_cron_time
from trax.store import metadata_create

pytestmark = pytest.mark.django_db

GREET = "demo.greet"
ADA = {"name": "Ada"}
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TABLES = (ManifestGroup, Manifest, WorkQueue, DeadLetter, Metadata, Audit)


# ── helpers ──────────────────────────────────────────────────────────────────────────────────


def sync(builder: ScheduleBuilder, now: datetime = NOW) -> SaveReport:
    """What the leader does at start-up."""
    return save_declarations(
        builder.declarations, now=now, declared_in_code=True, prune_missing=True
    )


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TABLES}


def db_state() -> dict[str, list[dict[str, Any]]]:
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in TABLES}


def assert_sync_refused(
    call: Callable[[], object], error: type[Exception] = ScheduleError
) -> Exception:
    counts, state = row_counts(), db_state()
    with pytest.raises(error) as info:
        call()
    assert row_counts() == counts
    assert db_state() == state
    return info.value


def manifest(external_id: str) -> Manifest:
    return Manifest.objects.select_related("group", "depends_on").get(external_id=external_id)


def etl(**extract_options: Any) -> ScheduleBuilder:
    """extract every 5 min -> transform -> load, with validate off extract, in group etl."""
    return (
        ScheduleBuilder()
        .schedule("extract", GREET, ADA, Every.minutes(5), group="etl", **extract_options)
        .then_include("transform", GREET, ADA, group="etl")
        .then_include("load", GREET, ADA, group="etl")
        .include("validate", GREET, ADA, group="etl")
    )


def one(external_id: str = "a", schedule: Any = None, **options: Any) -> ScheduleBuilder:
    return ScheduleBuilder().schedule(
        external_id, GREET, ADA, schedule or Every.minutes(5), **options
    )


# ── create and update by external id ─────────────────────────────────────────────────────────


def test_the_sync_creates_the_declared_manifests_and_their_groups() -> None:
    report = sync(etl())

    assert report.created == ("extract", "transform", "load", "validate")
    assert report.updated == () and report.pruned == ()
    assert [m.external_id for m in report.manifests] == list(report.created)
    rows = {m.external_id: m for m in Manifest.objects.select_related("group", "depends_on")}
    assert set(rows) == {"extract", "transform", "load", "validate"}
    assert {m.group.name for m in rows.values()} == {"etl"}
    assert all(m.declared_in_code for m in rows.values())
    assert rows["extract"].schedule_type == ScheduleType.INTERVAL
    assert rows["extract"].next_run_at == NOW
    assert rows["transform"].depends_on.external_id == "extract"
    assert rows["load"].depends_on.external_id == "transform"
    assert rows["validate"].depends_on.external_id == "extract"
    assert rows["load"].schedule_type == ScheduleType.DEPENDENT
    assert rows["load"].next_run_at is None
    assert rows["extract"].timezone == "UTC"
    assert rows["extract"].max_retries == 3  # the default


def test_a_second_sync_updates_by_external_id_and_never_duplicates() -> None:
    sync(etl())
    ids = dict(Manifest.objects.values_list("external_id", "pk"))

    report = sync(etl(), now=NOW + timedelta(hours=1))

    assert report.created == () and set(report.updated) == set(ids)
    assert dict(Manifest.objects.values_list("external_id", "pk")) == ids
    assert ManifestGroup.objects.count() == 1


def test_a_declared_change_is_written_by_the_next_sync() -> None:
    sync(one(priority=1, max_retries=1))

    sync(
        ScheduleBuilder().schedule(
            "a", GREET, {"name": "Grace"}, Every.minutes(5), priority=6, max_retries=4, timeout=30
        )
    )

    row = manifest("a")
    assert (row.priority, row.max_retries, row.timeout_seconds) == (6, 4, 30)
    assert row.input == {"name": "Grace"}


def test_the_manager_service_sync_writes_the_declarations() -> None:
    service = ManagerService(ManagerServiceConfig(holder="test"), declarations=etl().declarations)

    report = service.sync()

    assert service.synced
    assert set(report.created) == {"extract", "transform", "load", "validate"}
    assert Manifest.objects.filter(declared_in_code=True).count() == 4


def test_the_manager_service_sync_prunes_what_is_no_longer_declared() -> None:
    ManagerService(ManagerServiceConfig(holder="test"), declarations=etl().declarations).sync()
    service = ManagerService(
        ManagerServiceConfig(holder="test"), declarations=one("extract", group="etl").declarations
    )

    report = service.sync()

    assert set(report.pruned) == {"transform", "load", "validate"}
    assert list(Manifest.objects.values_list("external_id", flat=True)) == ["extract"]


# ── code owns what it declares ───────────────────────────────────────────────────────────────


def test_a_runtime_change_to_a_declared_field_is_reverted_by_the_next_sync() -> None:
    sync(one(priority=2, max_retries=1))
    Manifest.objects.filter(external_id="a").update(priority=9, max_retries=7, input={"name": "Z"})

    sync(one(priority=2, max_retries=1))

    row = manifest("a")
    assert (row.priority, row.max_retries, row.input) == (2, 1, ADA)


def test_a_runtime_reschedule_of_a_declared_manifest_is_reverted_by_the_next_sync() -> None:
    sync(one(priority=2))
    trax.scheduler.schedule("a", GREET, ADA, Every.minutes(5), priority=20)
    assert manifest("a").priority == 20 and manifest("a").declared_in_code

    sync(one(priority=2))

    assert manifest("a").priority == 2


def test_a_manifest_disabled_at_runtime_stays_disabled_through_a_resync() -> None:
    sync(one())
    trax.scheduler.disable("a")

    sync(one(enabled=True), now=NOW + timedelta(days=1))

    row = manifest("a")
    assert not row.is_enabled and row.is_enabled_overridden


def test_a_manifest_disabled_by_a_runtime_reschedule_stays_disabled_through_a_resync() -> None:
    sync(one())
    trax.scheduler.schedule("a", GREET, ADA, Every.minutes(5), enabled=False)
    assert not manifest("a").is_enabled

    sync(one())

    assert not manifest("a").is_enabled


def test_a_manifest_enabled_at_runtime_stays_enabled_though_code_declares_it_off() -> None:
    sync(one(enabled=False))
    trax.scheduler.enable("a")

    sync(one(enabled=False))

    assert manifest("a").is_enabled


def test_code_owns_is_enabled_until_it_is_changed_at_runtime() -> None:
    sync(one(enabled=False))
    assert not manifest("a").is_enabled

    sync(one(enabled=True))

    row = manifest("a")
    assert row.is_enabled and not row.is_enabled_overridden


def test_a_once_manifest_that_disabled_itself_stays_disabled_through_a_resync() -> None:
    run_at = NOW + timedelta(minutes=10)
    declarations = ScheduleBuilder().schedule_once("launch", GREET, ADA, run_at=run_at)
    sync(declarations)
    launch = manifest("launch")
    row = metadata_create(name=GREET, input=ADA, manifest_id=launch.pk)

    execution = default_service().execute(row.pk)

    assert execution.state == TrainState.COMPLETED
    launch.refresh_from_db()
    assert not launch.is_enabled and launch.is_enabled_overridden
    assert launch.last_successful_run is not None

    sync(declarations, now=NOW + timedelta(days=1))

    launch.refresh_from_db()
    assert not launch.is_enabled


# ── next_run_at ──────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "schedule", [Every.minutes(5), Cron.daily(hour=3), Cron.expression("*/10 * * * *")]
)
def test_a_resync_never_pushes_a_due_next_run_at_back(schedule: Any) -> None:
    sync(one(schedule=schedule))
    due = NOW - timedelta(hours=2)
    Manifest.objects.filter(external_id="a").update(next_run_at=due)

    sync(one(schedule=schedule), now=NOW + timedelta(hours=1))

    assert manifest("a").next_run_at == due


def test_a_resync_keeps_a_future_next_run_at_too() -> None:
    sync(one(schedule=Cron.daily(hour=3)))
    first = manifest("a").next_run_at
    assert first == datetime(2025, 3, 2, 3, 0, tzinfo=UTC)

    sync(one(schedule=Cron.daily(hour=3), priority=4), now=NOW + timedelta(hours=13))

    assert manifest("a").next_run_at == first


def test_a_resync_of_a_once_manifest_at_the_same_time_keeps_next_run_at() -> None:
    run_at = NOW + timedelta(hours=1)
    sync(ScheduleBuilder().schedule_once("x", GREET, ADA, run_at=run_at))
    Manifest.objects.filter(external_id="x").update(next_run_at=run_at - timedelta(minutes=5))

    sync(
        ScheduleBuilder().schedule_once("x", GREET, ADA, run_at=run_at),
        now=NOW + timedelta(minutes=30),
    )

    assert manifest("x").next_run_at == run_at - timedelta(minutes=5)


def test_a_restart_never_pushes_back_a_once_manifest_declared_with_a_delay() -> None:
    first_start = ScheduleBuilder(clock=lambda: NOW).schedule_once(
        "warm-up", GREET, ADA, delay=timedelta(hours=1)
    )
    sync(first_start)
    due = manifest("warm-up").next_run_at
    assert due == NOW + timedelta(hours=1)

    later = NOW + timedelta(minutes=45)
    restart = ScheduleBuilder(clock=lambda: later).schedule_once(
        "warm-up", GREET, ADA, delay=timedelta(hours=1)
    )
    sync(restart, now=later)

    assert manifest("warm-up").next_run_at <= due


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (Every.minutes(5), Every.minutes(10), NOW + timedelta(hours=1)),
        (Cron.daily(hour=3), Cron.daily(hour=14), datetime(2025, 3, 1, 14, 0, tzinfo=UTC)),
        (Every.minutes(5), Cron.daily(hour=14), datetime(2025, 3, 1, 14, 0, tzinfo=UTC)),
    ],
    ids=["interval", "cron", "interval-to-cron"],
)
def test_a_schedule_field_change_recomputes_next_run_at(
    before: Any, after: Any, expected: datetime
) -> None:
    sync(one(schedule=before))
    Manifest.objects.filter(external_id="a").update(next_run_at=NOW - timedelta(days=3))

    sync(one(schedule=after), now=NOW + timedelta(hours=1))

    assert manifest("a").next_run_at == expected


def test_a_time_zone_change_recomputes_a_cron_next_run_at() -> None:
    sync(one(schedule=Cron.daily(hour=14)))
    assert manifest("a").next_run_at == datetime(2025, 3, 1, 14, 0, tzinfo=UTC)

    sync(one(schedule=Cron.daily(hour=14), timezone="America/New_York"))

    row = manifest("a")
    assert row.timezone == "America/New_York"
    assert row.next_run_at == next_cron_time("0 0 14 * * *", "America/New_York", NOW)
    assert row.next_run_at == datetime(2025, 3, 1, 19, 0, tzinfo=UTC)


# ── pruning ──────────────────────────────────────────────────────────────────────────────────


def test_a_runtime_created_manifest_survives_a_sync_that_does_not_declare_it() -> None:
    sync(one("declared"))
    trax.scheduler.schedule("runtime", GREET, ADA, Every.minutes(1))

    report = sync(one("declared"))

    assert report.pruned == ()
    assert set(Manifest.objects.values_list("external_id", flat=True)) == {"declared", "runtime"}
    assert not manifest("runtime").declared_in_code


def test_a_manifest_no_longer_declared_is_pruned_with_its_entries_and_dead_letters() -> None:
    sync(
        ScheduleBuilder()
        .schedule("keep", GREET, ADA, Every.minutes(5))
        .schedule("old", GREET, ADA, Every.minutes(5))
    )
    old = manifest("old")
    run = metadata_create(name=GREET, input=ADA, manifest_id=old.pk)
    Metadata.objects.filter(pk=run.pk).update(train_state=TrainState.FAILED)
    WorkQueue.objects.create(train_name=GREET, input=ADA, manifest=old)
    DeadLetter.objects.create(
        manifest=old, last_failed_run=run, reason="gave up", status=DeadLetterStatus.ACKNOWLEDGED
    )
    keep_entry = WorkQueue.objects.create(train_name=GREET, input=ADA, manifest=manifest("keep"))

    report = sync(one("keep"))

    assert report.pruned == ("old",)
    assert not Manifest.objects.filter(external_id="old").exists()
    assert not WorkQueue.objects.filter(manifest_id=old.pk).exists()
    assert not DeadLetter.objects.filter(manifest_id=old.pk).exists()
    run.refresh_from_db()
    assert run.manifest_id is None and run.train_state == TrainState.FAILED
    assert WorkQueue.objects.filter(pk=keep_entry.pk).exists()


def test_a_runtime_manifest_adopted_by_code_is_pruned_once_code_drops_it() -> None:
    trax.scheduler.schedule("adopted", GREET, ADA, Every.minutes(1))
    sync(one("adopted"))
    assert manifest("adopted").declared_in_code

    report = sync(one("other"))

    assert report.pruned == ("adopted",)
    assert list(Manifest.objects.values_list("external_id", flat=True)) == ["other"]


def test_a_named_batch_item_no_longer_declared_is_pruned() -> None:
    def batch(*ids: str) -> ScheduleBuilder:
        items = [ManifestItem(i, ADA) for i in ids]
        return ScheduleBuilder().schedule_many(GREET, items, Every.minutes(5), name="greet")

    sync(batch("0", "1", "2"))

    report = sync(batch("0", "2"))

    assert report.pruned == ("greet-1",)
    assert sorted(Manifest.objects.values_list("external_id", flat=True)) == ["greet-0", "greet-2"]


def test_a_declared_manifest_awaiting_a_dead_letter_is_not_pruned() -> None:
    sync(
        ScheduleBuilder()
        .schedule("keep", GREET, ADA, Every.minutes(5))
        .schedule("stuck", GREET, ADA, Every.minutes(5))
    )
    letter = DeadLetter.objects.create(manifest=manifest("stuck"), reason="gave up")

    report = sync(one("keep"))

    assert report.pruned == ()
    assert Manifest.objects.filter(external_id="stuck").exists()
    letter.refresh_from_db()
    assert letter.status == DeadLetterStatus.AWAITING_INTERVENTION


def test_a_sync_without_pruning_keeps_undeclared_manifests() -> None:
    sync(
        ScheduleBuilder()
        .schedule("a", GREET, ADA, Every.minutes(5))
        .schedule("b", GREET, ADA, Every.minutes(5))
    )

    report = save_declarations(one("a").declarations, now=NOW, declared_in_code=True)

    assert report.pruned == ()
    assert Manifest.objects.count() == 2


def test_a_declared_dependency_is_never_silently_dropped_by_the_prune() -> None:
    sync(one("parent").then_include("child", GREET, ADA))
    # The parent is no longer declared; the child still names it.
    declarations = ScheduleBuilder().then_include_many(
        GREET, [ManifestItem("child", ADA, depends_on="parent")]
    )
    counts, state = row_counts(), db_state()

    try:
        sync(declarations)
    except ScheduleError:
        assert row_counts() == counts and db_state() == state
    else:
        child = manifest("child")
        assert child.depends_on is not None and child.depends_on.external_id == "parent"


# ── groups ───────────────────────────────────────────────────────────────────────────────────


def test_a_group_declared_with_settings_updates_the_group_row() -> None:
    sync(one(group=trax.Group("etl", max_active_jobs=5, priority=1)))

    sync(one(group=trax.Group("etl", max_active_jobs=2, priority=3, is_enabled=False)))

    group = ManifestGroup.objects.get(name="etl")
    assert (group.max_active_jobs, group.priority, group.is_enabled) == (2, 3, False)


def test_a_plain_group_name_leaves_an_existing_groups_settings_alone() -> None:
    sync(one(group=trax.Group("etl", max_active_jobs=2, priority=3)))
    ManifestGroup.objects.filter(name="etl").update(is_enabled=False)  # an operator's switch

    sync(one(group="etl"))

    group = ManifestGroup.objects.get(name="etl")
    assert (group.max_active_jobs, group.priority, group.is_enabled) == (2, 3, False)


def test_group_settings_win_over_a_plain_name_for_the_same_group_in_one_sync() -> None:
    builder = (
        ScheduleBuilder()
        .schedule("a", GREET, ADA, Every.minutes(5), group="etl")
        .schedule("b", GREET, ADA, Every.minutes(5), group=trax.Group("etl", max_active_jobs=4))
        .schedule("c", GREET, ADA, Every.minutes(5), group="etl")
    )

    sync(builder)

    group = ManifestGroup.objects.get()
    assert group.max_active_jobs == 4
    assert Manifest.objects.filter(group=group).count() == 3


def test_moving_a_manifest_to_another_group_keeps_the_old_group_row() -> None:
    sync(one(group="old"))

    sync(one(group="new"))

    assert manifest("a").group.name == "new"
    assert set(ManifestGroup.objects.values_list("name", flat=True)) == {"old", "new"}


# ── one transaction: a refused sync changes nothing ─────────────────────────────────────────


def _existing_world() -> None:
    sync(etl(priority=1))
    trax.scheduler.schedule("runtime", GREET, ADA, Every.minutes(1))


def test_a_dependency_cycle_in_the_declarations_leaves_the_database_untouched() -> None:
    _existing_world()
    builder = (
        etl(priority=9)
        .then_include_many(GREET, [ManifestItem("x", ADA, depends_on="y")])
        .then_include_many(GREET, [ManifestItem("y", ADA, depends_on="x")])
    )

    error = assert_sync_refused(lambda: sync(builder), DependencyCycleError)
    assert sorted(error.members) == ["x", "y"]  # type: ignore[attr-defined]


def test_a_cycle_through_an_existing_manifest_leaves_the_database_untouched() -> None:
    _existing_world()
    # "runtime" (not declared) would depend on "load", and "extract" on "runtime".
    trax.scheduler.schedule_dependent("runtime-child", GREET, ADA, depends_on="load")
    builder = ScheduleBuilder().then_include_many(
        GREET, [ManifestItem("extract", ADA, depends_on="runtime-child")]
    )

    error = assert_sync_refused(lambda: sync(builder), DependencyCycleError)
    assert "extract" in str(error) and "runtime-child" in str(error)


def test_a_group_cycle_in_the_declarations_leaves_the_database_untouched() -> None:
    _existing_world()
    builder = (
        ScheduleBuilder()
        .schedule("p1", GREET, ADA, Every.minutes(5), group="g1")
        .schedule("p2", GREET, ADA, Every.minutes(5), group="g2")
        .then_include_many(GREET, [ManifestItem("m1", ADA, depends_on="p2")], group="g1")
        .then_include_many(GREET, [ManifestItem("m2", ADA, depends_on="p1")], group="g2")
    )

    error = assert_sync_refused(lambda: sync(builder), DependencyCycleError)
    assert sorted(error.members) == ["g1", "g2"]  # type: ignore[attr-defined]


def test_a_bad_parent_in_the_declarations_leaves_the_database_untouched() -> None:
    _existing_world()
    builder = etl(priority=9).then_include_many(
        GREET, [ManifestItem("orphan", ADA, depends_on="ghost")]
    )

    error = assert_sync_refused(lambda: sync(builder))
    assert "ghost" in str(error) and getattr(error, "field", None) == "depends_on"


def test_a_refused_manager_service_sync_leaves_it_unsynced_and_the_database_untouched() -> None:
    _existing_world()
    builder = one("new-one", group=trax.Group("new-group", priority=5)).then_include_many(
        GREET, [ManifestItem("orphan", ADA, depends_on="ghost")]
    )
    service = ManagerService(ManagerServiceConfig(holder="test"), declarations=builder.declarations)

    assert_sync_refused(service.sync)
    assert not service.synced


def test_a_manifest_dropped_from_code_that_a_runtime_manifest_depends_on_is_kept() -> None:
    sync(one("parent"))
    trax.scheduler.schedule_dependent("child", GREET, ADA, depends_on="parent")

    report = sync(one("other"))

    assert report.pruned == ()
    assert manifest("child").depends_on_id == manifest("parent").pk
