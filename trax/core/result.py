"""The value a result-returning run gives back, and the structured context of a failure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, NoReturn, TypeVar

T = TypeVar("T")

_CONTEXT_ATTRIBUTE = "trax_failure"


@dataclass(frozen=True)
class FailureContext:
    """Where and how a run failed: attached to the original exception, never replacing it."""

    train_name: str
    junction_name: str
    exception_type: str
    message: str
    stack_trace: str


def failure_context(error: BaseException) -> FailureContext | None:
    """The structured context the engine attached to ``error``, if it passed through a train."""
    context = getattr(error, _CONTEXT_ATTRIBUTE, None)
    return context if isinstance(context, FailureContext) else None


def attach_failure_context(error: BaseException, context: FailureContext) -> None:
    """Attach ``context`` to ``error`` (the innermost train keeps its context on nested runs)."""
    if failure_context(error) is not None:
        return
    try:
        setattr(error, _CONTEXT_ATTRIBUTE, context)
    except (AttributeError, TypeError):  # exception types with __slots__
        return
    error.add_note(f"in junction {context.junction_name} of train {context.train_name}")


@dataclass(frozen=True)
class Success(Generic[T]):
    """A run that completed; ``value`` is the train's output."""

    value: T
    ok: Literal[True] = True

    def unwrap(self) -> T:
        """The output."""
        return self.value


@dataclass(frozen=True)
class Failure:
    """A run that failed; ``error`` is the original exception, ``context`` says where."""

    error: Exception
    context: FailureContext
    ok: Literal[False] = False

    def unwrap(self) -> NoReturn:
        """Raise the original exception."""
        raise self.error


Result = Success[T] | Failure
