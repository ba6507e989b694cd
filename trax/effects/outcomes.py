"""What is recorded for a run: the outcome of an engine result, of an exception that escaped
it, of a cancel, or of a stored run that cannot start (unknown train, bad input)."""

from __future__ import annotations

import traceback
from typing import Any

from trax.core import (
    Failure,
    FailureContext,
    Result,
    SerializationError,
    Train,
    TraxError,
)
from trax.core.serialization import from_json, to_json
from trax.models import CancelReason, FailureKind, TrainState
from trax.registry import UnknownTrainError, registry
from trax.store import RunOutcome

Timings = list[dict[str, Any]] | None  # Metadata.junction_timings


def train_and_input(name: str, data: Any) -> tuple[type[Train[Any, Any]], Any]:
    """The registered train of a stored run and its validated input (UnknownTrainError,
    InputValidationError)."""
    train = registry.get(name)
    return train, from_json(train.input_type, data, what=f"input of {name}")


def refusal(name: str, error: TraxError) -> tuple[RunOutcome, Failure]:
    """How a stored run that cannot start is recorded: ``UnknownTrain`` (never retried) or the
    validation error."""
    exception_type = (
        FailureKind.UNKNOWN_TRAIN.value
        if isinstance(error, UnknownTrainError)
        else type(error).__name__
    )
    outcome = RunOutcome(
        state=TrainState.FAILED, failure_exception=exception_type, failure_reason=str(error)
    )
    return outcome, Failure(error, FailureContext(name, "", exception_type, str(error), ""))


def settle(
    train_class: type[Train[Any, Any]], result: Result[Any], timings: Timings = None
) -> tuple[Result[Any], RunOutcome]:
    """The outcome to record for an engine result (with the run's junction ``timings``); an
    output that cannot become JSON fails the run with a clear error instead of being
    half-written."""
    if isinstance(result, Failure):
        c = result.context
        return result, RunOutcome(
            state=TrainState.FAILED,
            failure_junction=c.junction_name,
            failure_exception=c.exception_type,
            failure_reason=c.message,
            stack_trace=c.stack_trace,
            junction_timings=timings,
        )
    name = train_class.canonical_name()
    try:
        output = to_json(train_class.output_type, result.value, what=f"output of {name}")
    except SerializationError as error:
        context = FailureContext(name, "", type(error).__name__, str(error), "")
        return Failure(error, context), RunOutcome(
            state=TrainState.FAILED,
            failure_exception=type(error).__name__,
            failure_reason=str(error),
            junction_timings=timings,
        )
    return result, RunOutcome(state=TrainState.COMPLETED, output=output, junction_timings=timings)


def escaped(error: BaseException, timings: Timings = None) -> RunOutcome:
    """The outcome of an exception that escaped the engine (KeyboardInterrupt, SystemExit)."""
    return RunOutcome(
        state=TrainState.FAILED,
        failure_exception=type(error).__name__,
        failure_reason=str(error) or type(error).__name__,
        stack_trace="".join(traceback.format_exception(error)),
        junction_timings=timings,
    )


def cancelled(reason: str | None, timings: Timings = None) -> RunOutcome:
    """The outcome of a cancel; a reason that is not a ``CancelReason`` is not stored."""
    return RunOutcome(
        state=TrainState.CANCELLED,
        cancel_reason=reason if reason in CancelReason.values else "",
        junction_timings=timings,
    )
