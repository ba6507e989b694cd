"""Per-junction start and end times: collected in memory at the junction boundaries and written
with the outcome (``Metadata.junction_timings``), on the direct path (``trax.run``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import trax
from tests.trax.effects.trains import Doubled, Numbers, Total
from trax.core import CancellationToken
from trax.effects import timings as timings_module
from trax.effects.timings import MAX_TIMINGS, JunctionTimings
from trax.models import Metadata, TrainState
from trax.testing import registered_trains

pytestmark = pytest.mark.django_db


class FakeClock:
    """A monotonic clock that moves only when a junction "sleeps"."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


CLOCK = FakeClock()


@pytest.fixture(autouse=True)
def fake_clocks(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    CLOCK.now = 100.0
    monkeypatch.setattr(timings_module, "monotonic", CLOCK)
    with registered_trains(ThreeSteps, FailsInTheMiddle, CancelsItself, CancelsBetween, Awaits):
        yield CLOCK


# ── Trains ─────────────────────────────────────────────────────────────────────────────────────


def double(numbers: Numbers) -> Doubled:
    return Doubled([v * 2 for v in numbers.values])


def slow_middle(doubled: Doubled) -> Doubled:
    CLOCK.sleep(2.5)
    return doubled


def add_up(doubled: Doubled) -> Total:
    CLOCK.sleep(0.25)
    return Total(sum(doubled.values))


class ThreeSteps(trax.Train[Numbers, Total]):
    name = "tests.timings.three_steps"
    junctions = [double, slow_middle, add_up]


class Refused(Exception):
    pass


def refuse(doubled: Doubled) -> Doubled:
    CLOCK.sleep(1.0)
    raise Refused("no")


class FailsInTheMiddle(trax.Train[Numbers, Total]):
    name = "tests.timings.fails_in_the_middle"
    junctions = [double, refuse, add_up]


def cancel_and_stop(doubled: Doubled, token: CancellationToken) -> Doubled:
    CLOCK.sleep(0.5)
    token.cancel("operator")
    token.raise_if_cancelled()
    return doubled


class CancelsItself(trax.Train[Numbers, Total]):
    name = "tests.timings.cancels_itself"
    junctions = [double, cancel_and_stop, add_up]


def cancel_and_return(doubled: Doubled, token: CancellationToken) -> Doubled:
    token.cancel("operator")
    return doubled


class CancelsBetween(trax.Train[Numbers, Total]):
    """Cancelled in its second junction, which returns: the third is stopped at its boundary."""

    name = "tests.timings.cancels_between"
    junctions = [double, cancel_and_return, add_up]


async def await_something(doubled: Doubled) -> Doubled:
    await asyncio.sleep(0)
    CLOCK.sleep(1.5)
    return doubled


class Awaits(trax.Train[Numbers, Total]):
    name = "tests.timings.awaits"
    junctions = [double, await_something, add_up]


def stored(name: str) -> list[dict[str, Any]]:
    timings = Metadata.objects.get(name=name).junction_timings
    assert isinstance(timings, list)
    return timings


def durations(timings: list[dict[str, Any]]) -> list[float]:
    return [t["ended_at"] - t["started_at"] for t in timings]


def assert_in_order(timings: list[dict[str, Any]]) -> None:
    moments = [t[key] for t in timings for key in ("started_at", "ended_at")]
    assert all(isinstance(m, float) for m in moments)
    assert moments == sorted(moments) and moments[0] >= 0


# ── Through trax.run (the direct path: metadata_finish) ───────────────────────────────────────


def test_a_completed_run_records_each_junction_in_order_with_its_duration() -> None:
    assert trax.run(ThreeSteps, Numbers([1, 2])) == Total(6)

    timings = stored(ThreeSteps.name)
    assert [t["name"] for t in timings] == ["double", "slow_middle", "add_up"]
    assert [t["outcome"] for t in timings] == ["completed"] * 3
    assert durations(timings) == [0.0, 2.5, 0.25]
    assert timings[1] == {
        "name": "slow_middle",
        "started_at": 0.0,  # seconds since the run began: the fake clock only moves in junctions
        "ended_at": 2.5,
        "outcome": "completed",
    }
    assert_in_order(timings)


def test_a_failing_junction_is_recorded_as_failed_and_nothing_after_it() -> None:
    with pytest.raises(Refused):
        trax.run(FailsInTheMiddle, Numbers([1]))

    run = Metadata.objects.get()
    assert run.train_state == TrainState.FAILED
    timings = stored(FailsInTheMiddle.name)
    assert [(t["name"], t["outcome"]) for t in timings] == [
        ("double", "completed"),
        ("refuse", "failed"),
    ]
    assert durations(timings) == [0.0, 1.0]


def test_a_junction_that_stops_on_its_cancel_is_recorded_as_cancelled() -> None:
    with pytest.raises(trax.TrainCancelled):
        trax.run(CancelsItself, Numbers([1]))

    assert Metadata.objects.get().train_state == TrainState.CANCELLED
    timings = stored(CancelsItself.name)
    assert [(t["name"], t["outcome"]) for t in timings] == [
        ("double", "completed"),
        ("cancel_and_stop", "cancelled"),
    ]
    assert durations(timings) == [0.0, 0.5]


def test_a_run_cancelled_at_a_junction_boundary_records_that_junction_as_cancelled() -> None:
    with pytest.raises(trax.TrainCancelled):
        trax.run(CancelsBetween, Numbers([1]))

    timings = stored(CancelsBetween.name)
    assert [(t["name"], t["outcome"]) for t in timings] == [
        ("double", "completed"),
        ("cancel_and_return", "completed"),
        ("add_up", "cancelled"),
    ]
    assert_in_order(timings)


def test_a_pre_cancelled_run_records_its_first_junction_as_cancelled() -> None:
    token = CancellationToken()
    token.cancel("operator")
    with pytest.raises(trax.TrainCancelled):
        trax.run(ThreeSteps, Numbers([1]), token=token)

    assert [(t["name"], t["outcome"]) for t in stored(ThreeSteps.name)] == [("double", "cancelled")]


def test_an_async_junction_is_timed() -> None:
    assert trax.run(Awaits, Numbers([2])) == Total(4)

    timings = stored(Awaits.name)
    assert [(t["name"], t["outcome"]) for t in timings] == [
        ("double", "completed"),
        ("await_something", "completed"),
        ("add_up", "completed"),
    ]
    assert durations(timings) == [0.0, 1.5, 0.25]


def test_an_exception_escaping_the_engine_records_the_open_junction_as_failed() -> None:
    def interrupt(numbers: Numbers) -> Total:
        raise KeyboardInterrupt

    class Interrupted(trax.Train[Numbers, Total]):
        name = "tests.timings.interrupted"
        junctions = [interrupt]

    with pytest.raises(KeyboardInterrupt), registered_trains(Interrupted):
        trax.run(Interrupted, Numbers([1]))

    assert [(t["name"], t["outcome"]) for t in stored(Interrupted.name)] == [
        ("interrupt", "failed")
    ]


def test_the_timings_are_written_by_the_finish_statement_and_no_other() -> None:
    with CaptureQueriesContext(connection) as queries:
        trax.run(ThreeSteps, Numbers([1]))

    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    writing = [sql for sql in updates if "junction_timings" in sql]
    assert len(writing) == 1  # the pending row's INSERT lists every column (NULL here)
    assert "end_time" in writing[0] and "completed" in writing[0]


# ── The recorder on its own ────────────────────────────────────────────────────────────────────


def test_the_recorder_caps_its_list_keeping_the_first_junctions_and_the_last() -> None:
    clock = FakeClock()
    recorder = JunctionTimings(clock=clock)
    ran = MAX_TIMINGS + 50
    for n in range(ran):
        recorder.started(f"j{n}")
        clock.sleep(0.001)
        recorder.ended("completed" if n < ran - 1 else "failed")

    timings = recorder.take("failed")

    assert len(timings) == MAX_TIMINGS
    assert [t["name"] for t in timings[: MAX_TIMINGS - 2]] == [
        f"j{n}" for n in range(MAX_TIMINGS - 2)
    ]
    assert timings[-2] == {"omitted": ran - (MAX_TIMINGS - 1)}
    assert (timings[-1]["name"], timings[-1]["outcome"]) == (f"j{ran - 1}", "failed")


def test_the_recorder_just_under_the_cap_stores_everything_without_a_marker() -> None:
    recorder = JunctionTimings(clock=FakeClock())
    for n in range(MAX_TIMINGS - 1):
        recorder.started(f"j{n}")
        recorder.ended("completed")

    timings = recorder.take("failed")

    assert [t["name"] for t in timings] == [f"j{n}" for n in range(MAX_TIMINGS - 1)]


def test_the_recorder_closes_an_open_junction_when_taken() -> None:
    clock = FakeClock()
    recorder = JunctionTimings(clock=clock)
    recorder.started("stuck")
    clock.sleep(3.0)

    assert recorder.take("cancelled") == [
        {"name": "stuck", "started_at": 0.0, "ended_at": 3.0, "outcome": "cancelled"}
    ]
