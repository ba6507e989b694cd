"""Step fold_rollups: each finished run enters the rollups once — also when its transaction
commits after later runs were folded, and when two schedulers fold at once (real connections,
real threads) — and the clean-up deletes rollups past their retention."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connections, transaction
from django.db.models.functions import Now

from trax.manager.config import ManagerConfig
from trax.manager.cycle import run_manager_cycle
from trax.manager.steps.cleanup import clean_up
from trax.manager.steps.rollups import fold_rollups
from trax.models import Metadata, RollupWatermark, RunRollup, TrainState
from trax.store import rollup_fold

from .conftest import cycle_at, finished, hours, minutes, seconds

pytestmark = pytest.mark.django_db

DAY = 24 * 3600.0
OUTCOMES = (TrainState.COMPLETED, TrainState.FAILED, TrainState.CANCELLED)


def folded_runs(width: int = 60) -> Counter[tuple[datetime, str, str]]:
    """Rollup counts by (bucket, train, outcome)."""
    return Counter(
        {
            (row.bucket.astimezone(UTC), row.train, row.outcome): row.runs
            for row in RunRollup.objects.filter(bucket_seconds=width).exclude(train="")
        }
    )


def finished_runs(width: int = 60) -> Counter[tuple[datetime, str, str]]:
    """The same counted from the runs themselves (what the rollups must agree with)."""
    counted: Counter[tuple[datetime, str, str]] = Counter()
    for name, state, end in Metadata.objects.filter(end_time__isnull=False).values_list(
        "name", "train_state", "end_time"
    ):
        start = int(end.timestamp()) // width * width
        counted[(datetime.fromtimestamp(start, tz=UTC), name, state)] += 1
    return counted


def just_now(name: str) -> Metadata:
    """A run finished now, by the database's clock (as every finish is stamped): after any
    point an earlier fold settled."""
    run = Metadata.objects.create(
        name=name, input={}, train_state=TrainState.COMPLETED, end_time=Now()
    )
    run.refresh_from_db()
    return run


def test_the_step_folds_what_finished_and_the_cycle_reports_it(clock: datetime) -> None:
    for n in range(3):
        finished(None, ended=clock - minutes(n + 1), state=TrainState.COMPLETED, name="a.job")
    finished(None, ended=clock - minutes(1), name="b.job")

    assert fold_rollups(cycle_at(clock, rollup_settle_seconds=0)).runs == 4
    assert fold_rollups(cycle_at(clock, rollup_settle_seconds=0)).runs == 0
    assert folded_runs() == finished_runs()

    just_now("b.job")
    report = run_manager_cycle(clock, config=ManagerConfig(rollup_settle_seconds=0))
    assert report.runs_folded == 1
    assert not report.did_anything()


def test_the_first_fold_starts_at_the_retention_and_minutes_stop_at_theirs(
    clock: datetime,
) -> None:
    finished(None, ended=clock - hours(24 * 40), name="old.job")  # past ROLLUP_RETENTION
    finished(None, ended=clock - hours(30), name="day.job")  # past the minute retention
    finished(None, ended=clock - minutes(5), name="new.job")

    folded = fold_rollups(
        cycle_at(
            clock,
            rollup_retention_seconds=30 * DAY,
            rollup_minute_retention_seconds=DAY,
            rollup_settle_seconds=0,
        )
    )

    assert folded.runs == 2
    assert {train for _, train, _ in folded_runs(3600)} == {"day.job", "new.job"}
    assert {train for _, train, _ in folded_runs(60)} == {"new.job"}


def test_the_clean_up_deletes_rollups_past_their_retention(clock: datetime) -> None:
    for age in (hours(24 * 100), hours(24 * 10), hours(1)):
        finished(None, ended=clock - age, name="a.job")
    rollup_fold(settle_seconds=0, using="default")  # from the beginning
    assert len(folded_runs(60)) == len(folded_runs(3600)) == 3

    cleaned = clean_up(cycle_at(clock))  # defaults: minutes 7 days, hours 90 days

    assert cleaned.rollups == (2 + 1) * 2  # with the all-trains rows
    assert len(folded_runs(60)) == 1
    assert len(folded_runs(3600)) == 2

    nothing = clean_up(
        cycle_at(clock, rollup_retention_seconds=None, rollup_minute_retention_seconds=None)
    )
    assert nothing.rollups == 0


# ── real connections ─────────────────────────────────────────────────────────────────────────


def in_thread(target: Callable[[], Any]) -> threading.Thread:
    """``target`` on a thread of its own (its own connections, closed at the end)."""

    def run() -> None:
        try:
            target()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def fold_now() -> int:
    return rollup_fold(settle_seconds=0, using="default").runs


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_run_committed_after_later_runs_were_folded_is_still_counted_once() -> None:
    """A worker's transaction stamps end_time when it finishes the run and commits later.
    Meanwhile other runs end and commit, and the fold runs: it must neither pass the open
    run's end_time (it would never come back for it) nor count anything twice."""
    early = finished(None, ended=datetime.now(UTC) - seconds(30), name="early.job")
    assert fold_now() == 1
    wrote, release = threading.Event(), threading.Event()
    late: list[int] = []

    def finish_and_linger() -> None:
        with transaction.atomic():
            run = Metadata.objects.create(
                name="late.job",
                input={},
                train_state=TrainState.COMPLETED,
                start_time=datetime.now(UTC) - seconds(1),
                end_time=Now(),
            )
            late.append(run.pk)
            wrote.set()
            release.wait(30)

    worker = in_thread(finish_and_linger)
    try:
        assert wrote.wait(10)
        time.sleep(0.05)
        after = just_now("after.job")
        time.sleep(0.05)
        for _ in range(3):
            assert fold_now() == 0, "the fold went past a run not yet committed"
    finally:
        release.set()
        worker.join(10)

    assert fold_now() + fold_now() == 2  # settles once the lingering transaction has ended
    assert fold_now() == 0
    assert folded_runs() == finished_runs()
    assert sum(folded_runs().values()) == 3
    end = Metadata.objects.get(id=late[0]).end_time
    assert end is not None and end < after.end_time and early.end_time < end
    assert RollupWatermark.objects.get().folded_end_time > after.end_time


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_an_idle_transaction_that_wrote_nothing_holds_nothing_back() -> None:
    """A session idle in a read-only transaction cannot commit a run stamped before now: the
    fold does not wait for it."""
    finished(None, ended=datetime.now(UTC) - seconds(5), name="a.job")
    reading, release = threading.Event(), threading.Event()

    def read_and_linger() -> None:
        with transaction.atomic():
            Metadata.objects.count()
            reading.set()
            release.wait(30)

    reader = in_thread(read_and_linger)
    try:
        assert reading.wait(10)
        time.sleep(0.05)  # its state is published
        assert fold_now() == 1
    finally:
        release.set()
        reader.join(10)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_long_read_only_transaction_holds_the_fold_back_only_while_its_statement_runs() -> None:
    """A statement running when the fold looks might yet write a run stamped with its start;
    once it is over and its transaction wrote nothing (a report, pg_dump between tables), that
    transaction holds nothing back, open as it stays — while a worker's transaction that wrote
    a run and lingers holds back what ended after it began."""
    fold_now()  # nothing open: the settled point is now
    run = just_now("a.job")
    running, ran, release = threading.Event(), threading.Event(), threading.Event()
    wrote = threading.Event()

    def read_slowly_then_linger() -> None:
        with transaction.atomic(), connections["default"].cursor() as cursor:
            running.set()
            cursor.execute("SELECT pg_sleep(0.5)")
            ran.set()
            release.wait(30)

    def finish_and_linger() -> None:
        with transaction.atomic():
            just_now("late.job")
            wrote.set()
            release.wait(30)

    threads = [in_thread(read_slowly_then_linger)]
    try:
        assert running.wait(10)
        time.sleep(0.2)  # its statement is under way
        assert fold_now() == 0, "a statement begun before the run ended was still running"
        assert ran.wait(10)
        threads.append(in_thread(finish_and_linger))
        assert wrote.wait(10)
        time.sleep(0.05)
        assert fold_now() == 1  # the reader no longer holds it back; the writer does
        assert folded_runs() == {(bucket_of(run), "a.job", TrainState.COMPLETED): 1}
    finally:
        release.set()
        for thread in threads:
            thread.join(10)
    assert fold_now() == 1
    assert folded_runs() == finished_runs()


def bucket_of(run: Metadata) -> datetime:
    assert run.end_time is not None
    return run.end_time.astimezone(UTC).replace(second=0, microsecond=0)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_fold_finding_the_watermark_held_leaves_the_batch_to_its_holder() -> None:
    finished(None, ended=datetime.now(UTC) - seconds(5), name="a.job")
    fold_now()  # makes the watermark row
    just_now("a.job")
    locked, release = threading.Event(), threading.Event()

    def hold_the_watermark() -> None:
        with transaction.atomic():
            RollupWatermark.objects.select_for_update().get()
            locked.set()
            release.wait(30)

    holder = in_thread(hold_the_watermark)
    try:
        assert locked.wait(10)
        busy = rollup_fold(settle_seconds=0, using="default")
    finally:
        release.set()
        holder.join(10)

    assert (busy.runs, busy.busy) == (0, True)
    assert fold_now() + fold_now() == 1


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_folding_while_workers_finish_runs_count_each_run_once() -> None:
    """Two threads run the manager cycle over and over while two others finish runs in
    transactions that commit up to 60 ms after their end_time (longer than the settle margin,
    so only the settled point keeps them). Every run is counted once, in its own bucket."""
    stop = threading.Event()
    produced: list[int] = []
    errors: list[BaseException] = []
    config = ManagerConfig(rollup_settle_seconds=0.01)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for n in range(60):
                with transaction.atomic():
                    Metadata.objects.create(
                        name=f"train.{n % 3}",
                        input={},
                        train_state=OUTCOMES[rng.randrange(3)],
                        start_time=datetime.now(UTC) - timedelta(seconds=rng.random()),
                        end_time=Now(),
                    )
                    time.sleep(rng.random() * 0.06)
                produced.append(1)
        except BaseException as error:
            errors.append(error)

    def scheduler() -> None:
        try:
            while not stop.is_set():
                run_manager_cycle(config=config)
        except BaseException as error:
            errors.append(error)

    workers = [in_thread(lambda seed=seed: worker(seed)) for seed in (1, 2)]
    schedulers = [in_thread(scheduler) for _ in range(2)]
    for thread in workers:
        thread.join(60)
    stop.set()
    for thread in schedulers:
        thread.join(60)

    assert not errors, errors
    assert not any(t.is_alive() for t in workers + schedulers)
    for _ in range(3):  # what was still settling
        rollup_fold(settle_seconds=0, using="default")
    assert sum(produced) == 120
    assert sum(folded_runs().values()) == 120
    assert folded_runs() == finished_runs()
    assert folded_runs(3600) == finished_runs(3600)
    all_trains = RunRollup.objects.filter(bucket_seconds=3600, train="")
    assert sum(all_trains.values_list("runs", flat=True)) == 120
