"""The engine: runs a train's junctions in order on the calling thread."""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from asgiref.sync import async_to_sync

from trax.core.annotations import NONE_TYPE, type_name
from trax.core.cancellation import CancellationToken, TrainCancelled
from trax.core.context import RunContext, activate, current_run_or_none
from trax.core.junction import JunctionSpec
from trax.core.memory import Memory
from trax.core.result import (
    Failure,
    FailureContext,
    Result,
    Success,
    attach_failure_context,
)

if TYPE_CHECKING:  # a train runs its chain through this module: no import back at runtime
    from trax.core.train import Train


class JunctionObserver(Protocol):
    """Told about each junction boundary; the run lifecycle's effects hang off this seam."""

    def before_junction(self, spec: JunctionSpec) -> None:
        """Called before a junction runs; may fire the run's token to stop it."""

    def after_junction(self, spec: JunctionSpec, error: BaseException | None) -> None:
        """Called after a junction returned or raised."""


class _JunctionFailed(Exception):
    """Carries a junction's failure and its context out of the loop (never escapes)."""

    def __init__(self, error: Exception, context: FailureContext) -> None:
        self.error = error
        self.context = context


def execute(
    train: Train[Any, Any],
    input: Any,
    *,
    token: CancellationToken,
    context: RunContext | None = None,
    observer: JunctionObserver | None = None,
) -> Any:
    """Run ``train`` and return its output; re-raise the first junction exception unchanged."""
    result = execute_result(train, input, token=token, context=context, observer=observer)
    if isinstance(result, Failure):
        raise result.error
    return result.value


def execute_result(
    train: Train[Any, Any],
    input: Any,
    *,
    token: CancellationToken,
    context: RunContext | None = None,
    observer: JunctionObserver | None = None,
) -> Result[Any]:
    """Run ``train``; Success or Failure (with this train's failure context). Cancellation
    raises TrainCancelled."""
    cls = type(train)
    if cls.is_abstract:
        raise TypeError(f"{type_name(cls)} is abstract and cannot run")
    if cls.input_type is NONE_TYPE:
        if input is not None:
            raise TypeError(f"{cls.canonical_name()} takes no input; got {input!r}")
    elif not isinstance(input, cls.input_type):
        raise TypeError(
            f"{cls.canonical_name()} takes {type_name(cls.input_type)}; "
            f"got {type_name(type(input))}"
        )
    run_context = context or RunContext(
        train_name=cls.canonical_name(), token=token, parent=current_run_or_none()
    )
    memory = Memory()
    if cls.input_type is not NONE_TYPE:
        memory.put(cls.input_type, input)
    with activate(run_context):
        try:
            for spec in cls.specs:
                _run_junction(cls.canonical_name(), spec, memory, token, observer)
        except _JunctionFailed as failed:
            return Failure(failed.error, failed.context)
    if cls.output_type is NONE_TYPE:
        return Success(None)
    return Success(memory.get(cls.output_type))


def _run_junction(
    train_name: str,
    spec: JunctionSpec,
    memory: Memory,
    token: CancellationToken,
    observer: JunctionObserver | None,
) -> None:
    if observer is not None:
        observer.before_junction(spec)
    token.raise_if_cancelled()
    try:
        value = _invoke(spec, memory, token)
        if spec.output is not None and not isinstance(value, spec.output):
            raise TypeError(
                f"junction {spec.name} declares it returns {type_name(spec.output)} "
                f"but returned {type_name(type(value))}"
            )
    except TrainCancelled as cancelled:
        if observer is not None:
            observer.after_junction(spec, cancelled)
        raise
    except Exception as error:
        failure = FailureContext(
            train_name=train_name,
            junction_name=spec.name,
            exception_type=type(error).__name__,
            message=str(error),
            stack_trace="".join(traceback.format_exception(error)),
        )
        attach_failure_context(error, failure)
        if observer is not None:
            observer.after_junction(spec, error)
        raise _JunctionFailed(error, failure) from None
    if observer is not None:
        observer.after_junction(spec, None)
    if spec.output is not None:
        memory.put(spec.output, value)


def _invoke(spec: JunctionSpec, memory: Memory, token: CancellationToken) -> Any:
    function = spec.bind(token)
    arguments: dict[str, Any] = {parameter: memory.get(needed) for parameter, needed in spec.inputs}
    if spec.token_parameter is not None:
        arguments[spec.token_parameter] = token
    if not spec.is_async:
        return function(**arguments)
    return _drive_async(function, arguments, token)


def _drive_async(
    function: Callable[..., Any], arguments: dict[str, Any], token: CancellationToken
) -> Any:
    """Run an async junction from this (sync) thread through asgiref, so Django's async ORM
    calls come back to this thread's connection; the token cancels the junction's task."""

    async def drive() -> Any:
        loop = asyncio.get_running_loop()
        task = loop.create_task(function(**arguments))

        def interrupt() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the junction finished
                loop.call_soon_threadsafe(task.cancel)

        handle = token.add_callback(interrupt)
        try:
            return await task
        except asyncio.CancelledError:
            if token.cancelled:
                raise TrainCancelled(token.reason) from None
            raise
        finally:
            token.remove_callback(handle)

    return async_to_sync(drive)()
