"""Success, Failure and the failure context attached to the original exception."""

import dataclasses

import pytest

from trax.core import Failure, FailureContext, Success, failure_context
from trax.core.result import attach_failure_context


def make_context(train: str = "billing", junction: str = "Charge") -> FailureContext:
    return FailureContext(
        train_name=train,
        junction_name=junction,
        exception_type="ValueError",
        message="boom",
        stack_trace="Traceback ...",
    )


def test_success_holds_the_value_and_unwraps_to_it() -> None:
    result = Success(41)
    assert result.ok is True
    assert result.value == 41
    assert result.unwrap() == 41


def test_failure_holds_the_error_and_context_and_unwraps_by_raising_the_error() -> None:
    error = ValueError("boom")
    context = make_context()
    result = Failure(error, context)
    assert result.ok is False
    assert result.context is context

    with pytest.raises(ValueError) as info:
        result.unwrap()
    assert info.value is error


def test_results_can_be_told_apart_by_pattern_matching() -> None:
    def describe(result: Success[int] | Failure) -> str:
        match result:
            case Success(value=value):
                return f"ok {value}"
            case Failure(context=context):
                return f"failed in {context.junction_name}"
        return "unreachable"

    assert describe(Success(3)) == "ok 3"
    assert describe(Failure(ValueError(), make_context(junction="Ship"))) == "failed in Ship"


def test_results_and_contexts_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Success(1).value = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_context().message = "changed"  # type: ignore[misc]


def test_an_exception_that_never_passed_through_a_train_has_no_failure_context() -> None:
    assert failure_context(ValueError("plain")) is None


def test_an_unrelated_attribute_of_the_same_name_is_not_taken_for_a_failure_context() -> None:
    error = ValueError("plain")
    error.trax_failure = "not a context"  # type: ignore[attr-defined]
    assert failure_context(error) is None


def test_attaching_a_context_keeps_the_message_and_adds_a_note() -> None:
    error = ValueError("boom")
    attach_failure_context(error, make_context())

    assert failure_context(error) == make_context()
    assert str(error) == "boom"
    assert error.args == ("boom",)
    assert error.__notes__ == ["in junction Charge of train billing"]


def test_the_first_attached_context_is_kept_so_the_innermost_train_wins() -> None:
    error = ValueError("boom")
    inner = make_context(train="inner", junction="InnerStep")
    outer = make_context(train="outer", junction="OuterStep")

    attach_failure_context(error, inner)
    attach_failure_context(error, outer)

    assert failure_context(error) is inner
    assert error.__notes__ == ["in junction InnerStep of train inner"]
