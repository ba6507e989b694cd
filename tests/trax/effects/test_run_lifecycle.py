"""The recorded run lifecycle: pending -> in_progress -> completed | failed | cancelled."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import connections, transaction

import trax
from tests.trax.effects.trains import (
    GATE,
    Explodes,
    ExplodingValue,
    Gated,
    Numbers,
    Parent,
    ReturnsOdd,
    SumDoubled,
    Total,
    Wait,
)
from trax.core import CancellationToken, InputValidationError, SerializationError
from trax.models import Metadata, TrainState
from trax.registry import UnknownTrainError
from trax.testing import registered_trains

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _this_module_s_trains() -> Iterator[None]:
    """Only registered trains run: this module's own are registered while its tests run."""
    with registered_trains(RaisesNul, EchoText, ReturnsNaN):
        yield


@pytest.fixture(autouse=True)
def fresh_gate() -> Iterator[None]:
    GATE.started.clear()
    GATE.release.clear()
    GATE.reached_second.clear()
    GATE.run_ids.clear()
    yield
    GATE.release.set()


def test_a_successful_run_is_recorded_with_input_output_and_timing() -> None:
    assert trax.run(SumDoubled, Numbers([1, 2, 3])) == Total(12)

    run = Metadata.objects.get()
    assert run.name == "tests.sum_doubled"
    assert run.train_state == TrainState.COMPLETED
    assert run.input == {"values": [1, 2, 3]}
    assert run.output == {"value": 12}
    assert run.start_time is not None and run.end_time is not None
    assert run.created_at <= run.start_time <= run.end_time
    assert run.start_time.utcoffset().total_seconds() == 0
    assert run.failure_junction == "" and run.stack_trace == ""
    assert run.currently_running_junction == "" and run.junction_started_at is None


def test_a_run_by_registered_name_takes_json_input() -> None:
    assert trax.run("tests.sum_doubled", {"values": [5]}) == Total(10)
    assert Metadata.objects.get().input == {"values": [5]}


def test_host_fields_are_stamped_on_the_run(settings: object) -> None:
    trax.run(SumDoubled, Numbers([1]))
    run = Metadata.objects.get()
    assert run.host_name
    assert run.host_environment == "server"
    assert run.host_instance_id
    assert run.host_labels == {"project": "example"}
    assert run.executor


def test_a_failing_run_records_the_failing_junction_and_raises_the_original_error() -> None:
    with pytest.raises(ExplodingValue, match=r"cannot add \[2, 4\]") as raised:
        trax.run(Explodes, Numbers([1, 2]))

    context = trax.failure_context(raised.value)
    assert context is not None and context.junction_name == "explode"
    run = Metadata.objects.get()
    assert run.train_state == TrainState.FAILED
    assert run.failure_junction == "explode"
    assert run.failure_exception == "ExplodingValue"
    assert run.failure_reason == "cannot add [2, 4]"
    assert "in explode" in run.stack_trace and "raise ExplodingValue" in run.stack_trace
    assert run.output is None


def test_run_result_returns_the_failure_instead_of_raising() -> None:
    result = trax.run_result(Explodes, Numbers([1]))

    assert isinstance(result, trax.Failure)
    assert isinstance(result.error, ExplodingValue)
    assert result.context.junction_name == "explode"
    assert Metadata.objects.get().train_state == TrainState.FAILED


def test_run_result_returns_success_with_the_output() -> None:
    result = trax.run_result(SumDoubled, Numbers([2]))
    assert isinstance(result, trax.Success) and result.value == Total(4)


def test_an_unknown_train_name_is_refused_before_anything_is_written() -> None:
    with pytest.raises(UnknownTrainError, match=r"no train is registered as 'tests\.nope'"):
        trax.run("tests.nope", {})
    assert not Metadata.objects.exists()


@pytest.mark.parametrize(
    "bad_input, problem",
    [
        ({"values": "many"}, "values: Input should be a valid list"),
        ({"numbers": [1]}, "values: Field required"),
        ([1, 2], "Input should be"),
        (None, "Input should be"),
    ],
)
def test_input_of_the_wrong_shape_is_refused_before_anything_is_written(
    bad_input: object, problem: str
) -> None:
    with pytest.raises(InputValidationError, match=r"input of tests\.sum_doubled") as raised:
        trax.run(SumDoubled, bad_input)
    assert problem in str(raised.value)
    assert not Metadata.objects.exists()


def test_an_unserialisable_output_fails_the_run_with_a_clear_error() -> None:
    with pytest.raises(SerializationError, match=r"output of tests\.returns_odd"):
        trax.run(ReturnsOdd, Numbers([1]))

    run = Metadata.objects.get()
    assert run.train_state == TrainState.FAILED
    assert run.failure_exception == "SerializationError"
    assert "cannot be serialised as JSON" in run.failure_reason
    assert run.output is None


def test_a_pre_cancelled_token_records_a_cancelled_run_that_ran_no_junction() -> None:
    token = CancellationToken()
    token.cancel("operator")

    with pytest.raises(trax.TrainCancelled):
        trax.run_result(Gated, Wait(0.01), token=token)

    run = Metadata.objects.get()
    assert run.train_state == TrainState.CANCELLED
    assert run.cancel_reason == "operator"
    assert run.end_time is not None
    assert not GATE.started.is_set()


@pytest.mark.django_db(transaction=True)
def test_a_token_cancelled_from_another_thread_stops_a_sleeping_junction_at_once() -> None:
    token = CancellationToken()
    errors: list[BaseException] = []

    def run_it() -> None:
        try:
            trax.run("tests.sleeps", {"seconds": 30}, token=token)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run_it)
    thread.start()
    assert GATE.started.wait(10)
    token.cancel("operator")
    thread.join(5)

    assert not thread.is_alive(), "the sleeping junction was not interrupted"
    assert len(errors) == 1 and isinstance(errors[0], trax.TrainCancelled)
    assert not GATE.reached_second.is_set()


def test_nested_runs_are_linked_to_their_parent() -> None:
    trax.run(Parent, {"children": 2})

    parent = Metadata.objects.get(name="tests.parent")
    children = Metadata.objects.filter(parent=parent)
    assert children.count() == 2
    assert all(child.train_state == TrainState.COMPLETED for child in children)
    assert parent.train_state == TrainState.COMPLETED


def test_a_keyboard_interrupt_inside_a_junction_still_finishes_the_record() -> None:
    class Interrupting(trax.Junction):
        def run(self, numbers: Numbers) -> Total:
            raise KeyboardInterrupt

    class Interrupted(trax.Train[Numbers, Total]):
        name = "tests.interrupted"
        junctions = [Interrupting]

    with pytest.raises(KeyboardInterrupt), registered_trains(Interrupted):
        trax.run(Interrupted, Numbers([1]))

    run = Metadata.objects.get()
    assert run.train_state == TrainState.FAILED
    assert run.failure_exception == "KeyboardInterrupt"


def test_current_run_inside_a_recorded_junction_names_the_run() -> None:
    seen: list[trax.RunContext] = []

    def look(numbers: Numbers) -> Total:
        seen.append(trax.current_run())
        return Total(0)

    class Looks(trax.Train[Numbers, Total]):
        name = "tests.looks"
        junctions = [look]

    with registered_trains(Looks):
        trax.run(Looks, Numbers([]))
    run = Metadata.objects.get()
    assert seen[0].run_id == run.pk
    assert seen[0].external_id == str(run.external_id)
    assert seen[0].train_name == "tests.looks"


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql
def test_a_rollback_in_user_code_does_not_erase_the_run_on_postgresql() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        trax.run(SumDoubled, Numbers([1]))
        raise RuntimeError("the caller rolls back")

    assert Metadata.objects.filter(train_state=TrainState.COMPLETED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_on_sqlite_run_records_share_the_callers_transaction() -> None:
    if connections["default"].vendor != "sqlite":
        pytest.skip("documents SQLite behaviour")
    with pytest.raises(RuntimeError), transaction.atomic():
        trax.run(SumDoubled, Numbers([1]))
        raise RuntimeError("the caller rolls back")

    assert not Metadata.objects.exists()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_arun_runs_a_train_from_async_code() -> None:
    from asgiref.sync import sync_to_async

    assert await trax.arun(SumDoubled, Numbers([4])) == Total(8)

    def states() -> list[str]:
        try:
            return list(Metadata.objects.values_list("train_state", flat=True))
        finally:
            connections.close_all()  # asgiref's shared sync thread outlives the test

    assert await sync_to_async(states)() == [TrainState.COMPLETED]


@dataclass
class Measure:
    value: float


def nul_message(numbers: Numbers) -> Total:
    raise ValueError("bad\x00byte")


def not_a_number(numbers: Numbers) -> Measure:
    return Measure(float("nan"))


class RaisesNul(trax.Train[Numbers, Total]):
    name = "tests.raises_nul"
    junctions = [nul_message]


@dataclass
class Text:
    text: str


def echo(text: Text) -> Text:
    return text


class EchoText(trax.Train[Text, Text]):
    name = "tests.echo_text"
    junctions = [echo]


class ReturnsNaN(trax.Train[Numbers, Measure]):
    name = "tests.returns_nan"
    junctions = [not_a_number]


def test_a_failure_message_with_a_nul_character_is_still_recorded() -> None:
    with pytest.raises(ValueError):
        trax.run(RaisesNul, Numbers([1]))
    run = Metadata.objects.get()
    assert run.train_state == TrainState.FAILED
    assert run.failure_reason == "bad\\x00byte"


def test_an_output_that_is_not_strict_json_fails_the_run_with_a_clear_error() -> None:
    with pytest.raises(SerializationError, match="not JSON compliant"):
        trax.run(ReturnsNaN, Numbers([1]))
    assert Metadata.objects.get().failure_exception == "SerializationError"


def test_an_input_that_is_not_strict_json_is_refused_before_anything_is_written() -> None:
    with pytest.raises(InputValidationError, match="NUL"):
        trax.run(EchoText, {"text": "a\x00b"})
    assert not Metadata.objects.exists()


def test_an_unregistered_train_is_refused_before_anything_is_written() -> None:
    def nothing(numbers: Numbers) -> Total:
        return Total(0)

    class Stray(trax.Train[Numbers, Total]):
        name = "tests.stray"
        junctions = [nothing]

    with pytest.raises(UnknownTrainError, match=r"tests\.stray is not registered"):
        trax.run(Stray, Numbers([1]))

    assert not Metadata.objects.exists()


def test_registered_trains_registers_for_the_block_and_restores_the_registry() -> None:
    from trax.registry import registry

    def nothing(numbers: Numbers) -> Total:
        return Total(0)

    class Visitor(trax.Train[Numbers, Total]):
        name = "tests.visitor"
        junctions = [nothing]

    with registered_trains(Visitor):
        assert trax.run(Visitor, Numbers([1])) is not None
    assert "tests.visitor" not in registry
