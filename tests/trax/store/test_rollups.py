"""Rollups (trax/store/rollups.py): every finished run is folded into its minute and hour
buckets exactly once — across repeated folds, batches cut inside runs that ended at the same
instant, and a fold that fails halfway; outcomes, durations and queue waits add up; the reads
return zero-filled series from the rollups alone; retention deletes old buckets only."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trax.models import Metadata, RollupWatermark, RunRollup, TrainState, WorkQueue
from trax.store import (
    RunStats,
    retention_delete_rollups,
    rollup_by_train,
    rollup_fold,
    rollup_series,
)
from trax.store import rollups as rollups_module

pytestmark = pytest.mark.django_db

MINUTE, HOUR = 60, 3600
COMPLETED, FAILED, CANCELLED = TrainState.COMPLETED, TrainState.FAILED, TrainState.CANCELLED


def at(base: datetime, seconds: float) -> datetime:
    return base + timedelta(seconds=seconds)


@pytest.fixture
def hour() -> datetime:
    """The start of an hour well in the past (buckets are UTC, whole minutes)."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=3)


def ended(
    name: str,
    end: datetime,
    *,
    state: str = COMPLETED,
    ran: float | None = 2.0,
    waited: float = 0.0,
    scheduled: bool = True,
    **fields: Any,
) -> Metadata:
    """A run of ``name`` that ended at ``end`` after running ``ran`` seconds (None: it never
    started) and waiting ``waited`` seconds after its scheduled time (or, with ``scheduled``
    False, after its creation)."""
    start = None if ran is None else at(end, -ran)
    due = at(start or end, -waited)
    return Metadata.objects.create(
        name=name,
        input={},
        train_state=state,
        created_at=due if not scheduled else at(due, -100),
        scheduled_time=due if scheduled else None,
        start_time=start,
        end_time=end,
        **fields,
    )


def fold(until: datetime | None = None, **options: Any) -> int:
    """Fold what ended before ``until`` (default: now). The database stamps end_time when a
    run finishes, so a run can never end before a point the fold already settled: a test that
    adds runs after a fold keeps them after that fold's ``until``."""
    settle = 0.0 if until is None else (datetime.now(UTC) - until).total_seconds()
    return rollup_fold(using="default", settle_seconds=settle, **options).runs


def secs(value: float) -> Any:
    """Seconds, to the tenth of a millisecond (SQLite's julianday arithmetic)."""
    return pytest.approx(value, abs=1e-4)


def counts(width: int = MINUTE, *, train: str | None = None) -> Counter[tuple[datetime, str, str]]:
    """Rollup counts by (bucket, train, outcome): of every train, or of ``train`` ("": the
    all-trains rows)."""
    rows = RunRollup.objects.filter(bucket_seconds=width)
    rows = rows.exclude(train="") if train is None else rows.filter(train=train)
    return Counter({(row.bucket.astimezone(UTC), row.train, row.outcome): row.runs for row in rows})


def row(width: int, bucket: datetime, train: str, outcome: str) -> RunRollup:
    return RunRollup.objects.get(bucket_seconds=width, bucket=bucket, train=train, outcome=outcome)


# ── the fold ─────────────────────────────────────────────────────────────────────────────────


def test_each_finished_run_is_counted_once_however_often_the_fold_runs(hour: datetime) -> None:
    for n in range(3):
        ended("shop.pay", at(hour, 10 + n))
    ended("shop.pay", at(hour, 70), state=FAILED)
    ended("mail.send", at(hour, 20), state=CANCELLED)

    assert fold(until=at(hour, 100)) == 5
    assert fold(until=at(hour, 100)) == 0
    assert fold(until=at(hour, 50)) == 0  # the settled point never moves back
    assert counts() == {
        (hour, "shop.pay", COMPLETED): 3,
        (at(hour, 60), "shop.pay", FAILED): 1,
        (hour, "mail.send", CANCELLED): 1,
    }
    assert counts(HOUR) == {
        (hour, "shop.pay", COMPLETED): 3,
        (hour, "shop.pay", FAILED): 1,
        (hour, "mail.send", CANCELLED): 1,
    }

    ended("shop.pay", at(hour, 110))  # later runs add to the buckets they end in
    ended("shop.pay", at(hour, 3700))

    assert fold() == 2
    assert fold() == 0
    assert counts()[(at(hour, 60), "shop.pay", COMPLETED)] == 1
    assert counts(HOUR)[(hour, "shop.pay", COMPLETED)] == 4
    assert counts(HOUR)[(at(hour, 3600), "shop.pay", COMPLETED)] == 1


def test_runs_not_finished_are_not_counted_until_they_are(hour: datetime) -> None:
    running = Metadata.objects.create(
        name="shop.pay", input={}, train_state=TrainState.IN_PROGRESS, start_time=hour
    )
    Metadata.objects.create(name="shop.pay", input={})  # pending

    assert fold(until=datetime.now(UTC) - timedelta(seconds=60)) == 0

    Metadata.objects.filter(id=running.pk).update(
        train_state=COMPLETED, end_time=datetime.now(UTC) - timedelta(seconds=5)
    )

    assert fold() == 1
    assert sum(counts().values()) == 1


def test_outcomes_durations_and_waits_add_up(hour: datetime) -> None:
    ended("etl.load", at(hour, 5), ran=2.0, waited=1.0)
    ended("etl.load", at(hour, 15), ran=4.0, waited=3.0)
    ended("etl.load", at(hour, 25), ran=0.5, waited=0.25, state=FAILED)
    ended("etl.load", at(hour, 35), ran=None, state=CANCELLED)  # cancelled before it started
    ended("etl.load", at(hour, 95), ran=10.0, waited=0.0)

    fold()

    completed = row(MINUTE, hour, "etl.load", COMPLETED)
    assert (completed.runs, completed.started) == (2, 2)
    assert completed.duration_total == secs(6.0)
    assert completed.duration_max == secs(4.0)
    assert completed.wait_total == secs(4.0)
    assert completed.wait_max == secs(3.0)
    failed = row(MINUTE, hour, "etl.load", FAILED)
    assert (failed.runs, failed.started, failed.duration_total) == (1, 1, secs(0.5))
    cancelled = row(MINUTE, hour, "etl.load", CANCELLED)
    assert (cancelled.runs, cancelled.started) == (1, 0)
    assert (cancelled.duration_total, cancelled.duration_max) == (0, None)
    assert (cancelled.wait_total, cancelled.wait_max) == (0, None)
    whole_hour = row(HOUR, hour, "etl.load", COMPLETED)
    assert (whole_hour.runs, whole_hour.started) == (3, 3)
    assert whole_hour.duration_total == secs(16.0)
    assert whole_hour.duration_max == secs(10.0)
    assert whole_hour.wait_max == secs(3.0)


def test_adding_to_a_bucket_keeps_the_larger_maximum(hour: datetime) -> None:
    ended("etl.load", at(hour, 5), ran=9.0, waited=1.0)
    fold(until=at(hour, 10))
    ended("etl.load", at(hour, 15), ran=1.0, waited=7.0)
    ended("etl.load", at(hour, 16), ran=None, state=COMPLETED)
    fold()

    bucket = row(MINUTE, hour, "etl.load", COMPLETED)
    assert (bucket.runs, bucket.started) == (3, 2)
    assert (bucket.duration_max, bucket.wait_max) == (secs(9.0), secs(7.0))
    assert bucket.duration_total == secs(10.0)


def test_queue_wait_counts_from_the_scheduled_time_else_the_work_entry_else_the_run(
    hour: datetime,
) -> None:
    start = at(hour, 10)
    scheduled = ended("a.scheduled", at(start, 1), ran=1, waited=4)
    entry = WorkQueue.objects.create(train_name="b.queued", input={})
    WorkQueue.objects.filter(id=entry.pk).update(created_at=at(start, -6))
    Metadata.objects.create(
        name="b.queued",
        input={},
        train_state=COMPLETED,
        work_queue=entry,
        created_at=at(start, -2),  # dispatched 4 s after it was queued
        start_time=start,
        end_time=at(start, 1),
    )
    ended("c.direct", at(start, 1), ran=1, waited=3, scheduled=False)
    ended("d.skewed", at(start, 1), ran=1, waited=-2)  # due after it started: clock skew

    fold()

    assert scheduled.scheduled_time is not None
    minutes = RunRollup.objects.filter(bucket_seconds=MINUTE).exclude(train="")
    waits = {r.train: r.wait_total for r in minutes}
    assert waits == {
        "a.scheduled": secs(4),
        "b.queued": secs(6),
        "c.direct": secs(3),
        "d.skewed": 0,
    }


def test_batches_cut_inside_runs_that_ended_at_the_same_instant_count_each_once(
    hour: datetime,
) -> None:
    """A completion batch stamps all its runs with one end_time: the watermark is a keyset,
    (end_time, id), so a batch may end inside such a group and the next carry on."""
    same = at(hour, 30)
    for n in range(7):
        ended("bulk.job", same, state=(FAILED if n % 3 == 0 else COMPLETED))
    for n in range(4):
        ended("bulk.job", at(hour, 40 + n))

    first = rollup_fold(using="default", settle_seconds=0, batch_size=3, max_batches=2)
    assert (first.runs, first.batches) == (6, 2)  # a call stops after max_batches

    assert fold(batch_size=3) == 5
    assert counts() == {(hour, "bulk.job", COMPLETED): 8, (hour, "bulk.job", FAILED): 3}


def test_a_fold_that_fails_halfway_leaves_nothing_behind(
    hour: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rollup upsert and the watermark's move are one transaction: a failure between them
    (a crash, a lost connection) undoes the upsert, and the next fold counts the runs once."""
    for n in range(4):
        ended("shop.pay", at(hour, n))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(rollups_module, "_advance", broken)
    with pytest.raises(RuntimeError):
        fold()
    assert not RunRollup.objects.exists()

    monkeypatch.undo()
    assert fold() == 4
    assert counts() == {(hour, "shop.pay", COMPLETED): 4}


def test_runs_ending_within_the_settle_margin_wait_for_a_later_fold() -> None:
    now = datetime.now(UTC)
    ended("shop.pay", at(now, -120))
    ended("shop.pay", at(now, -2))

    assert rollup_fold(settle_seconds=60, using="default").runs == 1
    assert rollup_fold(settle_seconds=0, using="default").runs == 1


def test_the_first_fold_starts_where_it_is_told_and_minutes_end_where_they_are_kept(
    hour: datetime,
) -> None:
    ended("shop.pay", at(hour, -7200))  # before the start: never counted
    ended("shop.pay", at(hour, -3000))  # past the minute retention: its hour only
    ended("shop.pay", at(hour, 10))

    assert fold(start_after=at(hour, -3600), minute_since=at(hour, -60)) == 2
    assert counts() == {(hour, "shop.pay", COMPLETED): 1}
    assert counts(HOUR) == {
        (at(hour, -3600), "shop.pay", COMPLETED): 1,
        (hour, "shop.pay", COMPLETED): 1,
    }
    assert fold(start_after=at(hour, -(10**6))) == 0  # the start counts once, for the first fold


def test_all_trains_are_added_up_in_their_own_rows_without_housekeeping(hour: datetime) -> None:
    """Train '' holds every train but trax's own: an overview's chart reads one row per bucket
    and outcome however many trains there are."""
    ended("trax.manager_cycle", at(hour, 5), state=FAILED)
    ended("shop.pay", at(hour, 5), ran=3)
    ended("mail.send", at(hour, 6), ran=5)
    ended("mail.send", at(hour, 7), state=FAILED)

    fold()

    assert counts()[(hour, "trax.manager_cycle", FAILED)] == 1
    assert counts(train="") == {(hour, "", COMPLETED): 2, (hour, "", FAILED): 1}
    assert counts(HOUR, train="") == {(hour, "", COMPLETED): 2, (hour, "", FAILED): 1}
    everything = row(MINUTE, hour, "", COMPLETED)
    assert (everything.duration_total, everything.duration_max) == (secs(8), secs(5))
    assert rollup_series(hour, at(hour, 60)).points[0].stats.failed == 1
    with_housekeeping = rollup_series(hour, at(hour, 60), include_housekeeping=True)
    assert with_housekeeping.points[0].stats.failed == 2
    assert set(rollup_by_train(hour, at(hour, 60), bucket="minute")) == {"shop.pay", "mail.send"}
    everything = rollup_by_train(hour, at(hour, 60), bucket="minute", include_housekeeping=True)
    assert everything["trax.manager_cycle"].failed == 1


# ── the reads ────────────────────────────────────────────────────────────────────────────────


def test_a_series_has_every_bucket_zeros_included(hour: datetime) -> None:
    ended("shop.pay", at(hour, 65), ran=2, waited=1)
    ended("shop.pay", at(hour, 70), ran=4, waited=3, state=FAILED)
    ended("mail.send", at(hour, 75), ran=1)
    ended("mail.send", at(hour, 190), state=CANCELLED, ran=None)
    fold()

    series = rollup_series(at(hour, 30), at(hour, 240))  # 30 s in: from that minute on

    assert series.bucket_seconds == MINUTE
    assert [p.start for p in series.points] == [at(hour, 60 * n) for n in range(4)]
    assert [p.stats.finished for p in series.points] == [0, 3, 0, 1]
    assert series.points[0].stats == RunStats()
    busy = series.points[1].stats
    assert (busy.completed, busy.failed, busy.cancelled, busy.started) == (2, 1, 0, 3)
    assert busy.duration_total == secs(7)
    assert busy.duration_max == secs(4)
    assert busy.mean_duration == secs(7 / 3)
    assert busy.mean_wait == secs(4 / 3)
    assert series.points[3].stats.cancelled == 1
    assert series.points[3].stats.mean_duration is None
    assert series.complete_before is not None and series.complete_before > at(hour, 190)


def test_a_series_of_one_train_and_of_hours(hour: datetime) -> None:
    ended("shop.pay", at(hour, 65))
    ended("mail.send", at(hour, 75))
    ended("shop.pay", at(hour, 3700), state=FAILED)
    fold()

    one = rollup_series(hour, at(hour, 180), train="mail.send")
    assert [p.stats.completed for p in one.points] == [0, 1, 0]
    hours = rollup_series(at(hour, -1), at(hour, 2 * 3600 + 1), bucket="hour")
    assert hours.bucket_seconds == HOUR
    assert [p.start for p in hours.points] == [at(hour, h * 3600) for h in (-1, 0, 1, 2)]
    assert [(p.stats.completed, p.stats.failed) for p in hours.points] == [
        (0, 0),
        (2, 0),
        (0, 1),
        (0, 0),
    ]


def test_a_series_before_any_fold_is_all_zeros(hour: datetime) -> None:
    series = rollup_series(hour, at(hour, 120))

    assert [p.stats for p in series.points] == [RunStats(), RunStats()]
    assert series.complete_before is None


def test_totals_by_train_give_means_and_maxima(hour: datetime) -> None:
    ended("slow.report", at(hour, 10), ran=30)
    ended("slow.report", at(hour, 20), ran=10, state=FAILED)
    ended("fast.ping", at(hour, 30), ran=0.1)
    fold()

    trains = rollup_by_train(hour, at(hour, 3600))

    assert list(trains) == ["fast.ping", "slow.report"]
    slow = trains["slow.report"]
    assert (slow.completed, slow.failed, slow.finished) == (1, 1, 2)
    assert slow.mean_duration == secs(20)
    assert slow.duration_max == secs(30)
    assert trains["fast.ping"].mean_duration == secs(0.1)


def test_durations_are_kept_as_a_histogram_that_gives_percentiles(hour: datetime) -> None:
    for n, ran in enumerate([0.005, 0.3, 0.3, 0.3, 0.4, 0.4, 0.45, 0.45, 0.48, 2.0]):
        ended("etl.load", at(hour, n), ran=ran)
    ended("etl.load", at(hour, 30), ran=None, state=FAILED)  # never started: no duration
    fold()

    load = rollup_by_train(hour, at(hour, 3600))["etl.load"]

    assert load.histogram[0] == 1 and load.histogram[5] == 8 and load.histogram[7] == 1
    assert sum(load.histogram) == load.started == 10
    p50, p95 = load.p50_duration, load.p95_duration
    assert p50 is not None and 0.25 <= p50 < 0.5, "the middle run is one of the 0.25-0.5 s ones"
    assert p95 is not None and 1.0 <= p95 <= 2.0, "the slowest tenth ends at the longest run"
    assert RunStats().p50_duration is None


@pytest.mark.parametrize(
    ("since", "until", "options", "words"),
    [
        (0, 60, {"bucket": "day"}, "bucket must be 'minute' or 'hour'"),
        (0, 60 * 60 * 24 * 365, {}, "use hour buckets"),
    ],
)
def test_reads_refuse_what_they_cannot_answer_cheaply(
    hour: datetime, since: int, until: int, options: dict[str, Any], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        rollup_series(at(hour, since), at(hour, until), **options)


def test_reads_refuse_naive_times() -> None:
    with pytest.raises(ValueError, match="aware"):
        rollup_series(datetime(2026, 1, 1), datetime(2026, 1, 2))


# ── retention ────────────────────────────────────────────────────────────────────────────────


def test_retention_deletes_old_buckets_only(hour: datetime) -> None:
    for minutes in (0, 1, 2, 60, 61, 120):
        ended("shop.pay", at(hour, minutes * 60 + 1))
    fold()
    assert len(counts()) == 6 and len(counts(HOUR)) == 3

    deleted = retention_delete_rollups(
        at(hour, 61 * 60), at(hour, 3600), batch_size=2, using="default"
    )

    assert deleted == (4 + 1) * 2  # each bucket has its train's row and the all-trains row
    assert sorted(k[0] for k in counts()) == [at(hour, 61 * 60), at(hour, 120 * 60)]
    assert sorted(k[0] for k in counts(train="")) == [at(hour, 61 * 60), at(hour, 120 * 60)]
    assert sorted(k[0] for k in counts(HOUR)) == [at(hour, 3600), at(hour, 7200)]


def test_retention_works_in_bounded_batches_and_can_be_switched_off(hour: datetime) -> None:
    for minutes in range(5):
        ended("shop.pay", at(hour, minutes * 60 + 1))
    fold()

    assert retention_delete_rollups(None, None, using="default") == 0
    assert (
        retention_delete_rollups(at(hour, 3600), None, batch_size=2, max_batches=2, using="default")
        == 4
    )
    assert len(counts()) == 3, "the oldest two buckets (four rows) go first"
    assert min(k[0] for k in counts()) == at(hour, 120)
    assert retention_delete_rollups(at(hour, 3600), None, using="default") == 6
    assert len(counts()) == 0 and len(counts(HOUR)) == 1


def test_the_watermark_is_one_row() -> None:
    fold()
    fold()

    assert RollupWatermark.objects.count() == 1


# ── plans ────────────────────────────────────────────────────────────────────────────────────


def scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """(node type, index or relation) of every scan in a JSON plan."""
    found = []
    if "Scan" in plan.get("Node Type", ""):
        found.append((plan["Node Type"], plan.get("Index Name") or plan.get("Relation Name", "")))
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


@pytest.mark.postgresql
@pytest.mark.parametrize("analyzed", [False, True])
def test_the_fold_reads_the_runs_since_its_watermark_through_the_end_time_index(
    hour: datetime, analyzed: bool
) -> None:
    """Whatever the statistics (an empty table's, or a long history's), the fold reaches its
    runs by a range of trax_metadata_end_time_idx: its cost follows the runs since the last
    fold, not the history."""
    from django.db import connection

    from trax.store.queries import query

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE trax_metadata")  # empty
        cursor.execute(
            "INSERT INTO trax_metadata (name, external_id, executor, train_state, created_at, "
            "start_time, end_time, failure_junction, failure_exception, failure_reason, "
            "stack_trace, attempt, cancellation_requested, cancel_reason, "
            "currently_running_junction, host_name, host_environment, host_instance_id, "
            "host_labels) "
            "SELECT 'bulk.job', gen_random_uuid(), '', 'completed', t, t, t, '', '', '', '', 1, "
            "false, '', '', '', '', '', '{}' FROM generate_series(1, 20000) AS g, "
            "LATERAL (SELECT %s - make_interval(secs => g) AS t) AS at",
            [hour],
        )
        if analyzed:
            cursor.execute("ANALYZE trax_metadata")
        params = {
            "after_end": at(hour, -100),
            "after_id": 0,
            "before": at(hour, -50),
            "limit": 10_000,
            "minute_since": at(hour, -3600),
            "bounds": [1.0],
        }
        cursor.execute("EXPLAIN (FORMAT JSON) " + query("postgresql", "rollup_fold"), params)
        (document,) = cursor.fetchone()

    plan = scans(document[0]["Plan"])
    assert any(target == "trax_metadata_end_time_idx" for _, target in plan), plan
    assert ("Seq Scan", "trax_metadata") not in plan, plan
