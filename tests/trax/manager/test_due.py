"""Step queue_due_manifests: interval, cron and once manifests are queued when due (DESIGN.md
§4), once per occurrence however long the outage, and ``next_run_at`` moves on."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

import trax
from trax.manager.steps import due
from trax.manager.steps.due import queue_due, queue_due_manifests
from trax.models import (
    DeadLetter,
    Manifest,
    ManifestGroup,
    Metadata,
    MisfirePolicy,
    ScheduleType,
    TrainState,
    WorkQueue,
)
from trax.scheduling.declarations import ManifestItem, ScheduleBuilder
from trax.scheduling.manifests import save_declarations

from .conftest import (
    GREET,
    PERSON,
    cycle_at,
    dispatch,
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


def set_next_run(manifest: Manifest, at: datetime | None) -> Manifest:
    Manifest.objects.filter(id=manifest.pk).update(next_run_at=at)
    return reload(manifest)


# ── first runs and advancing ───────────────────────────────────────────────────────────────


def test_an_interval_manifest_runs_at_once_then_every_interval(interval) -> None:
    before = timezone.now()
    manifest = interval(every=5)
    after = timezone.now()
    assert before <= manifest.next_run_at <= after  # first run: at once

    now = manifest.next_run_at
    result = queue_due_manifests(cycle_at(now))

    assert (result.queued, result.skipped_misfires) == (1, 0)
    [entry] = queued(manifest)
    assert entry.scheduled_at == now
    assert (entry.train_name, entry.input, entry.priority) == (GREET, PERSON, 0)
    assert entry.retry_of_id is None and entry.parent_success_stamp is None
    assert reload(manifest).next_run_at == now + minutes(5)


def test_an_interval_manifest_is_not_queued_before_its_next_run(clock: datetime, interval) -> None:
    manifest = set_next_run(interval(), clock + minutes(5))

    assert queue_due_manifests(cycle_at(clock + minutes(5) - seconds(1))).queued == 0
    assert queue_due_manifests(cycle_at(clock + minutes(5))).queued == 1
    assert len(queued(manifest)) == 1


def next_local(after: datetime, zone: str, hour: int) -> datetime:
    """The next ``hour``:00 wall-clock time in ``zone`` strictly after ``after``."""
    local = after.astimezone(ZoneInfo(zone))
    candidate = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if candidate <= local:
        candidate = (candidate + timedelta(days=1)).replace(hour=hour)
    return candidate.astimezone(UTC)


def test_a_cron_manifest_first_runs_at_its_next_match_in_its_time_zone() -> None:
    before = timezone.now()
    manifest = trax.scheduler.schedule(
        "nine-in-new-york", GREET, PERSON, trax.Cron.daily(hour=9), timezone="America/New_York"
    )

    assert manifest.timezone == "America/New_York"
    assert manifest.next_run_at == next_local(before, "America/New_York", 9)


@pytest.mark.parametrize(
    ("zone", "due_at", "following"),
    [
        # 09:00 EST on the eve of the spring change -> 09:00 EDT the next day (one hour earlier
        # in UTC).
        (
            "America/New_York",
            datetime(2025, 3, 8, 14, 0, tzinfo=UTC),
            datetime(2025, 3, 9, 13, 0, tzinfo=UTC),
        ),
        (
            "Europe/Paris",
            datetime(2025, 10, 25, 7, 0, tzinfo=UTC),  # 09:00 CEST
            datetime(2025, 10, 26, 8, 0, tzinfo=UTC),  # 09:00 CET
        ),
        ("UTC", datetime(2025, 6, 1, 9, 0, tzinfo=UTC), datetime(2025, 6, 2, 9, 0, tzinfo=UTC)),
    ],
)
def test_a_queued_cron_manifest_moves_to_its_next_match_in_its_time_zone(
    zone: str, due_at: datetime, following: datetime
) -> None:
    manifest = trax.scheduler.schedule(
        "cron", GREET, PERSON, trax.Cron.daily(hour=9), timezone=zone
    )
    set_next_run(manifest, due_at)
    now = due_at + seconds(3)

    result = queue_due_manifests(cycle_at(now))

    assert result.queued == 1
    assert queued(manifest)[0].scheduled_at == now
    assert reload(manifest).next_run_at == following


def test_a_once_manifest_first_runs_at_its_time(clock: datetime) -> None:
    run_at = clock + hours(1)
    manifest = trax.scheduler.schedule_once(GREET, PERSON, run_at=run_at, external_id="once")

    assert manifest.next_run_at == run_at
    assert queue_due_manifests(cycle_at(run_at - seconds(1))).queued == 0
    assert queued(manifest) == []


def test_a_once_manifest_fires_at_its_time_and_then_has_no_next_run(clock: datetime) -> None:
    run_at = clock + hours(1)
    manifest = trax.scheduler.schedule_once(GREET, PERSON, run_at=run_at, external_id="once")

    result = queue_due_manifests(cycle_at(run_at + seconds(1)))

    assert result.queued == 1
    assert reload(manifest).next_run_at is None
    dispatch(queued(manifest)[0])
    assert queue_due_manifests(cycle_at(run_at + hours(24))).queued == 0


def test_a_once_manifest_missed_under_do_nothing_is_skipped_for_good(clock: datetime) -> None:
    run_at = clock - hours(2)
    manifest = trax.scheduler.schedule_once(
        GREET, PERSON, run_at=run_at, external_id="once", misfire_policy="do_nothing"
    )

    result = queue_due_manifests(cycle_at(clock))

    assert (result.queued, result.skipped_misfires) == (0, 1)
    assert reload(manifest).next_run_at is None


def test_a_once_manifest_due_together_with_an_interval_one_is_queued(
    clock: datetime, interval
) -> None:
    # A batch mixing datetimes and None: the CASE gets its type from the datetimes.
    once = trax.scheduler.schedule_once(GREET, PERSON, run_at=clock - seconds(1), external_id="o")
    every = set_next_run(interval(), clock - seconds(1))

    result = queue_due_manifests(cycle_at(clock))

    assert result.queued == 2
    assert reload(once).next_run_at is None
    assert reload(every).next_run_at == clock + minutes(5)


# ── due guards ─────────────────────────────────────────────────────────────────────────────


def _disabled(manifest: Manifest, now: datetime) -> None:
    trax.scheduler.disable(manifest.external_id)


def _group_disabled(manifest: Manifest, now: datetime) -> None:
    ManifestGroup.objects.filter(id=manifest.group_id).update(is_enabled=False)


def _awaiting_dead_letter(manifest: Manifest, now: datetime) -> None:
    DeadLetter.objects.create(manifest=manifest, reason="retries exhausted")


def _something_queued(manifest: Manifest, now: datetime) -> None:
    trax.scheduler.trigger(manifest.external_id, delay=3600)


def _pending_run(manifest: Manifest, now: datetime) -> None:
    pending(manifest)


def _in_progress_run(manifest: Manifest, now: datetime) -> None:
    running(manifest, started=now - minutes(1), name=GREET)


GUARDS = {
    "disabled manifest": _disabled,
    "disabled group": _group_disabled,
    "awaiting dead letter": _awaiting_dead_letter,
    "something queued": _something_queued,
    "a pending run": _pending_run,
    "a run in progress": _in_progress_run,
}


@pytest.mark.parametrize("guard", list(GUARDS))
def test_each_guard_keeps_a_due_manifest_from_being_queued(
    clock: datetime, interval, guard: str
) -> None:
    manifest = set_next_run(interval(), clock - minutes(1))
    GUARDS[guard](manifest, clock)
    entries_before = list(WorkQueue.objects.values_list("id", flat=True))

    result = queue_due_manifests(cycle_at(clock))

    assert (result.queued, result.skipped_misfires) == (0, 0)
    assert list(WorkQueue.objects.values_list("id", flat=True)) == entries_before
    assert reload(manifest).next_run_at == clock - minutes(1)  # still due once free


@pytest.mark.parametrize("state", [TrainState.COMPLETED, TrainState.FAILED, TrainState.CANCELLED])
def test_finished_runs_and_resolved_letters_do_not_block_a_due_manifest(
    clock: datetime, interval, state: str
) -> None:
    manifest = set_next_run(interval(), clock - minutes(1))
    finished(manifest, ended=clock - minutes(2), state=state)
    DeadLetter.objects.create(manifest=manifest, reason="old", status="acknowledged")
    dispatched = WorkQueue.objects.create(train_name=GREET, input=PERSON, manifest=manifest)
    dispatch(dispatched)

    assert queue_due_manifests(cycle_at(clock)).queued == 1


def test_a_manifest_freed_from_its_guard_is_queued_on_a_later_cycle(
    clock: datetime, interval
) -> None:
    manifest = set_next_run(interval(), clock - minutes(1))
    run = running(manifest, started=clock - minutes(2), name=GREET)

    assert queue_due_manifests(cycle_at(clock)).queued == 0
    Metadata.objects.filter(id=run.pk).update(
        train_state=TrainState.COMPLETED, end_time=clock + seconds(10)
    )
    assert queue_due_manifests(cycle_at(clock + seconds(15))).queued == 1


# ── misfires ───────────────────────────────────────────────────────────────────────────────


def test_after_an_hours_outage_an_every_five_minutes_manifest_fires_once_under_fire_once_now(
    clock: datetime, interval
) -> None:
    manifest = set_next_run(interval(every=5), clock - hours(1))

    result = queue_due_manifests(cycle_at(clock))

    assert (result.queued, result.skipped_misfires) == (1, 0)
    assert len(queued(manifest)) == 1
    assert reload(manifest).next_run_at == clock + minutes(5)
    # No catching up: the following cycles of the next five minutes queue nothing more.
    dispatch(queued(manifest)[0])
    for step in range(1, 60):
        assert queue_due_manifests(cycle_at(clock + seconds(5 * step))).queued == 0
    assert queue_due_manifests(cycle_at(clock + minutes(5))).queued == 1
    assert WorkQueue.objects.filter(manifest=manifest).count() == 2


def test_after_an_outage_do_nothing_skips_to_the_next_slot_on_the_interval_grid(
    clock: datetime, interval
) -> None:
    missed = clock - minutes(62)  # slots at missed + 5k: the first after clock is clock + 3 min
    manifest = set_next_run(interval(every=5, misfire_policy="do_nothing"), missed)

    result = queue_due_manifests(cycle_at(clock))

    assert (result.queued, result.skipped_misfires) == (0, 1)
    assert queued() == []
    assert reload(manifest).next_run_at == clock + minutes(3)
    assert queue_due_manifests(cycle_at(clock + minutes(3))).queued == 1


@pytest.mark.parametrize(
    ("policy", "queued_count"),
    [(MisfirePolicy.FIRE_ONCE_NOW, 1), (MisfirePolicy.DO_NOTHING, 0)],
)
def test_a_cron_manifest_after_an_outage_fires_once_or_skips_to_its_next_match(
    policy: str, queued_count: int
) -> None:
    manifest = trax.scheduler.schedule(
        "hourly", GREET, PERSON, trax.Cron.hourly(minute=0), misfire_policy=policy
    )
    set_next_run(manifest, datetime(2025, 6, 1, 4, 0, tzinfo=UTC))
    now = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)  # five slots missed

    result = queue_due_manifests(cycle_at(now))

    assert (result.queued, result.skipped_misfires) == (queued_count, 1 - queued_count)
    assert len(queued(manifest)) == queued_count
    assert reload(manifest).next_run_at == datetime(2025, 6, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("late_by", "manifest_threshold", "fires"),
    [
        (seconds(30), None, True),  # within the 60 s default threshold
        (seconds(60), None, True),  # missed by exactly the threshold: not "more than"
        (seconds(90), None, False),
        (seconds(90), 120, True),  # the manifest's own threshold
        (seconds(150), 120, False),
        (seconds(5), 0, False),  # threshold 0: any lateness is a misfire
    ],
)
def test_do_nothing_fires_an_occurrence_missed_by_no_more_than_the_threshold(
    clock: datetime, interval, late_by: timedelta, manifest_threshold: int | None, fires: bool
) -> None:
    options: dict[str, Any] = {"misfire_policy": "do_nothing"}
    if manifest_threshold is not None:
        options["misfire_threshold"] = manifest_threshold
    manifest = set_next_run(interval(**options), clock - late_by)

    result = queue_due_manifests(cycle_at(clock, misfire_threshold_seconds=60))

    assert (result.queued, result.skipped_misfires) == (int(fires), int(not fires))
    assert len(queued(manifest)) == int(fires)


def test_the_cycles_default_threshold_applies_when_the_manifest_has_none(
    clock: datetime, interval
) -> None:
    manifest = set_next_run(interval(misfire_policy="do_nothing"), clock - seconds(90))

    assert queue_due_manifests(cycle_at(clock, misfire_threshold_seconds=120)).queued == 1
    assert len(queued(manifest)) == 1


# ── variance ───────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("seed", range(8))
def test_variance_adds_jitter_between_zero_and_the_variance(
    clock: datetime, interval, seed: int
) -> None:
    manifest = set_next_run(interval(every=5, variance=30), clock)

    result = queue_due(cycle_at(clock), rng=random.Random(seed))

    assert result.queued == 1
    next_run = reload(manifest).next_run_at
    assert clock + minutes(5) <= next_run <= clock + minutes(5) + seconds(30)
    jitter = timedelta(seconds=random.Random(seed).uniform(0, 30))
    assert next_run == clock + minutes(5) + jitter


def test_without_variance_there_is_no_jitter(clock: datetime, interval) -> None:
    manifest = set_next_run(interval(every=5), clock)

    queue_due(cycle_at(clock), rng=random.Random(1))

    assert reload(manifest).next_run_at == clock + minutes(5)


# ── what this step never queues ────────────────────────────────────────────────────────────


def test_dependents_manual_and_dormant_manifests_are_never_queued_by_this_step(
    clock: datetime, interval
) -> None:
    parent = interval("parent")
    Manifest.objects.filter(id=parent.pk).update(
        next_run_at=clock + hours(1), last_successful_run=clock - minutes(1)
    )
    dependent = trax.scheduler.schedule_dependent("child", GREET, PERSON, depends_on="parent")
    dormant = trax.scheduler.schedule_dependent(
        "dormant", GREET, PERSON, depends_on="parent", dormant=True
    )
    [manual] = save_declarations(
        ScheduleBuilder().manual("manual", GREET, PERSON).declarations,
        now=clock,
        declared_in_code=False,
    ).manifests
    assert [m.schedule_type for m in (dependent, dormant, manual)] == [
        ScheduleType.DEPENDENT,
        ScheduleType.DORMANT_DEPENDENT,
        ScheduleType.MANUAL,
    ]
    assert [m.next_run_at for m in (dependent, dormant, manual)] == [None, None, None]
    # Even a stray next_run_at in the past does not make them due.
    Manifest.objects.filter(id__in=[dependent.pk, dormant.pk, manual.pk]).update(
        next_run_at=clock - hours(1)
    )

    result = queue_due_manifests(cycle_at(clock))

    assert (result.queued, result.skipped_misfires) == (0, 0)
    assert queued() == []


def test_fifty_due_manifests_are_queued_in_one_cycle(clock: datetime) -> None:
    manifests = trax.scheduler.schedule_many(
        GREET,
        [ManifestItem(str(i), {"name": f"n{i}"}) for i in range(50)],
        trax.Every.minutes(5),
        name="bulk",
    )
    now = max(m.next_run_at for m in manifests)

    result = queue_due_manifests(cycle_at(now))

    assert result.queued == 50
    entries = queued()
    assert len(entries) == 50
    assert {e.manifest_id for e in entries} == {m.pk for m in manifests}
    assert {e.input["name"] for e in entries} == {f"n{i}" for i in range(50)}
    assert set(
        Manifest.objects.filter(external_id__startswith="bulk-").values_list(
            "next_run_at", flat=True
        )
    ) == {now + minutes(5)}


# ── restarts and re-syncs ──────────────────────────────────────────────────────────────────


def reschedule(every: int = 5) -> Manifest:
    return trax.scheduler.schedule("every-5", GREET, PERSON, trax.Every.minutes(every))


def test_re_scheduling_with_identical_arguments_does_not_pull_next_run_back(
    clock: datetime, interval
) -> None:
    manifest = interval("every-5")
    now = manifest.next_run_at
    queue_due_manifests(cycle_at(now))
    assert reload(manifest).next_run_at == now + minutes(5)

    reschedule()

    assert reload(manifest).next_run_at == now + minutes(5)


def test_re_scheduling_with_identical_arguments_does_not_push_an_overdue_run_forward(
    clock: datetime, interval
) -> None:
    manifest = set_next_run(interval("every-5"), clock - hours(1))

    reschedule()

    assert reload(manifest).next_run_at == clock - hours(1)
    assert queue_due_manifests(cycle_at(clock)).queued == 1


def test_a_start_up_sync_at_a_later_time_leaves_next_run_alone(clock: datetime) -> None:
    builder = ScheduleBuilder().schedule("synced", GREET, PERSON, trax.Every.minutes(5))
    builder.schedule("synced-cron", GREET, PERSON, trax.Cron.daily(hour=3))
    save_declarations(builder.declarations, now=clock, declared_in_code=True)
    Manifest.objects.filter(external_id="synced").update(next_run_at=clock + minutes(2))
    cron_next = Manifest.objects.get(external_id="synced-cron").next_run_at

    save_declarations(
        builder.declarations, now=clock + hours(30), declared_in_code=True, prune_missing=True
    )

    assert Manifest.objects.get(external_id="synced").next_run_at == clock + minutes(2)
    assert Manifest.objects.get(external_id="synced-cron").next_run_at == cron_next


def test_changing_the_schedule_recomputes_next_run(clock: datetime, interval) -> None:
    manifest = set_next_run(interval("every-5"), clock + hours(5))

    before = timezone.now()
    reschedule(every=10)

    assert reload(manifest).interval_seconds == 600
    assert before <= manifest.next_run_at <= timezone.now()


# ── racing schedulers ──────────────────────────────────────────────────────────────────────


def test_an_occurrence_a_racing_scheduler_queued_first_is_neither_doubled_nor_counted(
    clock: datetime, interval, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = set_next_run(interval(), clock - seconds(1))
    decide = due.decide_occurrence

    def racing_decision(manifest_row: Manifest, *args: Any, **kwargs: Any) -> Any:
        # Another scheduler queues the same manifest between our due query and our insert.
        WorkQueue.objects.create(train_name=GREET, input=PERSON, manifest_id=manifest_row.pk)
        return decide(manifest_row, *args, **kwargs)

    monkeypatch.setattr(due, "decide_occurrence", racing_decision)

    result = queue_due_manifests(cycle_at(clock))

    assert len(queued(manifest)) == 1
    assert result.queued == 0
