"""Trains: typed pipelines of junctions, checked when they are declared."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from trax.core.annotations import NONE_TYPE, memory_key_problem, type_name
from trax.core.cancellation import CancellationToken
from trax.core.context import RunContext, current_run_or_none
from trax.core.errors import TrainDeclarationError
from trax.core.junction import JunctionSpec, describe_junction
from trax.core.result import FailureContext, Result
from trax.core.serialization import adapter_for

InT = TypeVar("InT")
OutT = TypeVar("OutT")


class Train(Generic[InT, OutT]):
    """A chain of junctions from an input type to an output type.

    Declare ``class MyTrain(Train[In, Out]): junctions = [StepA, step_b]``. Each junction takes
    its inputs from memory (the train input and every earlier output, keyed by exact class);
    the result is the value of type ``Out``. ``run`` raises on failure; ``run_result`` returns
    Success or Failure. Both raise TrainCancelled when cancelled. Neither records anything:
    ``trax.run`` is the recorded run.

    Pass ``abstract=True`` in the class statement for a base class that declares no chain.
    """

    name: ClassVar[str | None] = None
    junctions: ClassVar[Sequence[Any]] = ()
    input_type: ClassVar[type]
    output_type: ClassVar[type]
    specs: ClassVar[tuple[JunctionSpec, ...]] = ()
    is_abstract: ClassVar[bool] = True

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.is_abstract = abstract
        if abstract:
            return
        cls.input_type, cls.output_type = _declared_types(cls)
        cls.specs = tuple(
            describe_junction(step, train_name=cls.canonical_name()) for step in cls.junctions
        )
        _check_chain(cls)

    @classmethod
    def canonical_name(cls) -> str:
        """The stable name runs are recorded under: ``name`` if set, else module.QualName."""
        own_name = cls.__dict__.get("name")  # a subclass does not inherit its parent's name
        return own_name or f"{cls.__module__}.{cls.__qualname__}"

    def run(self, input: InT, *, token: CancellationToken | None = None) -> OutT:
        """Run the chain in memory and return the output; the first exception is re-raised."""
        from trax.core.execution import execute

        return typing.cast(OutT, execute(self, input, token=token or _inherited_token()))

    def run_result(self, input: InT, *, token: CancellationToken | None = None) -> Result[OutT]:
        """Run the chain and return Success or Failure instead of raising (not on cancel)."""
        from trax.core.execution import execute_result

        return execute_result(self, input, token=token or _inherited_token())

    # Per-train lifecycle hooks, called by recorded runs after the global hooks.
    def on_started(self, run: RunContext) -> None:
        """Called when a recorded run of this train starts."""

    def on_completed(self, run: RunContext, output: Any) -> None:
        """Called when a recorded run completes."""

    def on_failed(self, run: RunContext, error: Exception, context: FailureContext) -> None:
        """Called when a recorded run fails."""

    def on_cancelled(self, run: RunContext, reason: str | None) -> None:
        """Called when a recorded run is cancelled."""


def _inherited_token() -> CancellationToken:
    """A nested run shares its parent's token, so cancelling the parent stops it too."""
    parent = current_run_or_none()
    return parent.token if parent is not None else CancellationToken()


def _declared_types(cls: type[Train[Any, Any]]) -> tuple[type, type]:
    for base in getattr(cls, "__orig_bases__", ()):
        origin = typing.get_origin(base)
        if isinstance(origin, type) and issubclass(origin, Train):
            arguments = typing.get_args(base)
            if len(arguments) == 2 and not any(isinstance(a, TypeVar) for a in arguments):
                input_type, output_type = (NONE_TYPE if a is None else a for a in arguments)
                for role, declared in (("input", input_type), ("output", output_type)):
                    if declared is not NONE_TYPE:
                        problem = memory_key_problem(declared)
                        if problem:
                            raise TrainDeclarationError(
                                f"{cls.canonical_name()}: {role} type: {problem}"
                            )
                    try:
                        adapter_for(typing.cast(type, declared))
                    except TrainDeclarationError as error:
                        raise TrainDeclarationError(
                            f"{cls.canonical_name()}: {role} type {error}"
                        ) from None
                return input_type, output_type
    for parent in cls.__mro__[1:]:
        if isinstance(parent, type) and issubclass(parent, Train) and not parent.is_abstract:
            return parent.input_type, parent.output_type
    raise TrainDeclarationError(
        f"{cls.canonical_name()}: declare the input and output types, "
        f"as in class {cls.__name__}(Train[InputType, OutputType])"
    )


def _check_chain(cls: type[Train[Any, Any]]) -> None:
    """Replay memory over the declared chain: every input must be provided by something earlier."""
    name = cls.canonical_name()
    if not cls.specs:
        raise TrainDeclarationError(f"{name}: junctions is empty; list at least one junction")
    available: set[type] = set() if cls.input_type is NONE_TYPE else {cls.input_type}
    for spec in cls.specs:
        for parameter, needed in spec.inputs:
            if needed not in available:
                held = ", ".join(sorted(type_name(t) for t in available)) or "nothing"
                raise TrainDeclarationError(
                    f"{name}: junction {spec.name} needs {type_name(needed)} "
                    f"(parameter {parameter!r}) but nothing before it provides one "
                    f"(memory then holds: {held})"
                )
        if spec.output is not None:
            available.add(spec.output)
    if cls.output_type is not NONE_TYPE and cls.output_type not in available:
        raise TrainDeclarationError(
            f"{name}: the output type {type_name(cls.output_type)} is produced by no junction "
            "and is not the input"
        )
