"""Effects around a run: junction progress, log capture, hooks and user providers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import trax
from tests.trax.effects.trains import Explodes, Numbers, Parent, SumDoubled, Total
from trax.core import FailureContext, RunContext
from trax.models import Log, Metadata, TrainState
from trax.testing import registered_trains

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _this_module_s_trains() -> Iterator[None]:
    """Only registered trains run: this module's own are registered while its tests run."""
    with registered_trains(Peeks, Hooked):
        yield


EVENTS: list[tuple[str, ...]] = []


@pytest.fixture(autouse=True)
def clear_events() -> None:
    EVENTS.clear()


# Junction progress ---------------------------------------------------------------------------

PROGRESS_SEEN: list[tuple[str, bool]] = []


def peek_progress(numbers: Numbers) -> Total:
    run = Metadata.objects.get(id=trax.current_run().run_id)
    PROGRESS_SEEN.append((run.currently_running_junction, run.junction_started_at is not None))
    return Total(0)


class Peeks(trax.Train[Numbers, Total]):
    name = "tests.peeks"
    junctions = [peek_progress]


def test_the_running_junction_is_recorded_while_it_runs_and_cleared_after() -> None:
    PROGRESS_SEEN.clear()
    trax.run(Peeks, Numbers([]))

    assert PROGRESS_SEEN == [("peek_progress", True)]
    run = Metadata.objects.get()
    assert run.currently_running_junction == "" and run.junction_started_at is None


def test_progress_can_be_switched_off(settings: Any) -> None:
    settings.TRAX = {**settings.TRAX, "JUNCTION_PROGRESS": False}
    PROGRESS_SEEN.clear()
    trax.run(Peeks, Numbers([]))
    assert PROGRESS_SEEN == [("", False)]


# Log capture ---------------------------------------------------------------------------------


def test_logs_emitted_during_a_run_are_stored_with_the_run() -> None:
    trax.run(SumDoubled, Numbers([1, 2]))

    run = Metadata.objects.get()
    logs = list(Log.objects.filter(metadata=run).values_list("level", "logger", "message"))
    assert logs == [("INFO", "tests.trains", "doubling 2 values")]  # DEBUG is below threshold


def test_the_level_threshold_is_a_setting(settings: Any) -> None:
    settings.TRAX = {**settings.TRAX, "LOG_CAPTURE_LEVEL": "DEBUG"}
    logging.getLogger("tests.trains").setLevel(logging.DEBUG)
    try:
        trax.run(SumDoubled, Numbers([1]))
    finally:
        logging.getLogger("tests.trains").setLevel(logging.NOTSET)
    assert list(Log.objects.values_list("message", flat=True)) == [
        "doubling 1 values",
        "adding up",
    ]


def test_logs_of_a_failed_run_are_kept() -> None:
    trax.run_result(Explodes, Numbers([1]))
    assert list(Log.objects.values_list("level", "message")) == [
        ("INFO", "doubling 1 values"),
        ("ERROR", "about to explode"),
    ]


def test_log_capture_can_be_switched_off(settings: Any) -> None:
    settings.TRAX = {**settings.TRAX, "LOG_CAPTURE": False}
    trax.run(SumDoubled, Numbers([1]))
    assert not Log.objects.exists()


def test_logs_outside_runs_are_not_captured() -> None:
    logging.getLogger("tests.trains").warning("not in a run")
    assert not Log.objects.exists()


def test_child_run_logs_go_to_the_child() -> None:
    trax.run(Parent, {"children": 1})
    child = Metadata.objects.get(name="tests.sum_doubled")
    assert list(Log.objects.values_list("metadata_id", flat=True)) == [child.pk]


def test_exception_tracebacks_in_log_records_are_kept() -> None:
    def log_exception(numbers: Numbers) -> Total:
        try:
            raise ValueError("inner problem")
        except ValueError:
            logging.getLogger("tests.trains").exception("handled it")
        return Total(0)

    class LogsException(trax.Train[Numbers, Total]):
        name = "tests.logs_exception"
        junctions = [log_exception]

    with registered_trains(LogsException):
        trax.run(LogsException, Numbers([]))
    log = Log.objects.get()
    assert log.message == "handled it" and "ValueError: inner problem" in log.exception


def test_only_the_newest_records_are_kept_past_the_cap(settings: Any) -> None:
    settings.TRAX = {**settings.TRAX, "LOG_CAPTURE_MAX_RECORDS": 3}

    def chatty(numbers: Numbers) -> Total:
        for i in range(10):
            logging.getLogger("tests.trains").info("line %d", i)
        return Total(0)

    class Chatty(trax.Train[Numbers, Total]):
        name = "tests.chatty"
        junctions = [chatty]

    with registered_trains(Chatty):
        trax.run(Chatty, Numbers([]))
    assert list(Log.objects.values_list("message", flat=True)) == ["line 7", "line 8", "line 9"]


# Lifecycle hooks -----------------------------------------------------------------------------


class RecordingHook(trax.LifecycleHook):
    def on_started(self, run: RunContext) -> None:
        EVENTS.append(("global", "started", run.train_name))

    def on_completed(self, run: RunContext, output: Any) -> None:
        EVENTS.append(("global", "completed", repr(output)))

    def on_failed(self, run: RunContext, error: Exception, context: FailureContext) -> None:
        EVENTS.append(("global", "failed", context.junction_name))

    def on_cancelled(self, run: RunContext, reason: str | None) -> None:
        EVENTS.append(("global", "cancelled", str(reason)))


class RaisingHook(trax.LifecycleHook):
    def on_started(self, run: RunContext) -> None:
        raise RuntimeError("hook bug")

    def on_completed(self, run: RunContext, output: Any) -> None:
        raise RuntimeError("hook bug")

    def on_failed(self, run: RunContext, error: Exception, context: FailureContext) -> None:
        raise RuntimeError("hook bug")


def total(numbers: Numbers) -> Total:
    return Total(sum(numbers.values))


class Hooked(trax.Train[Numbers, Total]):
    name = "tests.hooked"
    junctions = [total]

    def on_started(self, run: RunContext) -> None:
        EVENTS.append(("train", "started", run.train_name))

    def on_completed(self, run: RunContext, output: Any) -> None:
        EVENTS.append(("train", "completed", repr(output)))


@pytest.fixture
def recording_hook(settings: Any) -> None:
    settings.TRAX = {
        **settings.TRAX,
        "LIFECYCLE_HOOKS": ["tests.trax.effects.test_effects.RecordingHook"],
    }


@pytest.mark.usefixtures("recording_hook")
def test_global_hooks_fire_before_the_trains_own() -> None:
    trax.run(Hooked, Numbers([1, 2]))
    assert EVENTS == [
        ("global", "started", "tests.hooked"),
        ("train", "started", "tests.hooked"),
        ("global", "completed", "Total(value=3)"),
        ("train", "completed", "Total(value=3)"),
    ]


@pytest.mark.usefixtures("recording_hook")
def test_on_failed_receives_the_failure_context() -> None:
    trax.run_result(Explodes, Numbers([1]))
    assert ("global", "failed", "explode") in EVENTS


@pytest.mark.usefixtures("recording_hook")
def test_on_cancelled_receives_the_reason() -> None:
    token = trax.CancellationToken()
    token.cancel("timeout")
    with pytest.raises(trax.TrainCancelled):
        trax.run(Hooked, Numbers([1]), token=token)
    assert ("global", "cancelled", "timeout") in EVENTS
    assert Metadata.objects.get().cancel_reason == "timeout"


def test_a_hook_that_raises_is_logged_and_never_changes_the_outcome(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.TRAX = {
        **settings.TRAX,
        "LIFECYCLE_HOOKS": ["tests.trax.effects.test_effects.RaisingHook"],
    }
    assert trax.run(Hooked, Numbers([2])) == Total(2)
    assert Metadata.objects.get().train_state == TrainState.COMPLETED
    assert "lifecycle hook RaisingHook.on_started raised" in caplog.text

    with pytest.raises(Exception, match="cannot add"):
        trax.run(Explodes, Numbers([1]))
    assert Metadata.objects.filter(train_state=TrainState.FAILED).count() == 1


# User effect providers -----------------------------------------------------------------------


class RecordingProvider(trax.EffectProvider):
    def run_started(self, run: RunContext) -> None:
        EVENTS.append(("provider", "run_started", run.train_name))

    def junction_started(self, run: RunContext, junction: str) -> None:
        EVENTS.append(("provider", "junction_started", junction))

    def junction_finished(
        self, run: RunContext, junction: str, error: BaseException | None
    ) -> None:
        EVENTS.append(("provider", "junction_finished", junction, type(error).__name__))

    def run_finished(self, run: RunContext, state: str) -> None:
        EVENTS.append(("provider", "run_finished", state))


class BrokenProvider(trax.EffectProvider):
    def junction_started(self, run: RunContext, junction: str) -> None:
        raise RuntimeError("provider bug")


def test_user_providers_see_every_boundary(settings: Any) -> None:
    settings.TRAX = {
        **settings.TRAX,
        "EFFECT_PROVIDERS": ["tests.trax.effects.test_effects.RecordingProvider"],
    }
    trax.run_result(Explodes, Numbers([1]))
    assert EVENTS == [
        ("provider", "run_started", "tests.explodes"),
        ("provider", "junction_started", "Double"),
        ("provider", "junction_finished", "Double", "NoneType"),
        ("provider", "junction_started", "explode"),
        ("provider", "junction_finished", "explode", "ExplodingValue"),
        ("provider", "run_finished", "failed"),
    ]


def test_user_providers_can_be_switched_off(settings: Any) -> None:
    settings.TRAX = {
        **settings.TRAX,
        "EFFECT_PROVIDERS": ["tests.trax.effects.test_effects.RecordingProvider"],
        "USER_EFFECT_PROVIDERS_ENABLED": False,
    }
    trax.run(SumDoubled, Numbers([1]))
    assert EVENTS == []


def test_a_provider_that_raises_does_not_change_the_outcome(settings: Any) -> None:
    settings.TRAX = {
        **settings.TRAX,
        "EFFECT_PROVIDERS": ["tests.trax.effects.test_effects.BrokenProvider"],
    }
    assert trax.run(SumDoubled, Numbers([1])) == Total(2)
    assert Metadata.objects.get().train_state == TrainState.COMPLETED
