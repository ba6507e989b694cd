"""The train engine: pure Python, no Django (DESIGN.md §2)."""

from trax.core.cancellation import CancellationToken, TrainCancelled
from trax.core.context import RunContext, current_run
from trax.core.errors import (
    InputValidationError,
    MissingInputError,
    NoActiveRun,
    SerializationError,
    TrainDeclarationError,
    TraxError,
)
from trax.core.execution import JunctionObserver
from trax.core.junction import Junction, JunctionSpec
from trax.core.result import Failure, FailureContext, Result, Success, failure_context
from trax.core.train import Train

__all__ = [
    "CancellationToken",
    "Failure",
    "FailureContext",
    "InputValidationError",
    "Junction",
    "JunctionObserver",
    "JunctionSpec",
    "MissingInputError",
    "NoActiveRun",
    "Result",
    "RunContext",
    "SerializationError",
    "Success",
    "Train",
    "TrainCancelled",
    "TrainDeclarationError",
    "TraxError",
    "current_run",
    "failure_context",
]
