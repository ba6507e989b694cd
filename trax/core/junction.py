"""Junctions: the steps of a train, as classes with ``run`` or as plain typed functions."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from trax.core.annotations import NONE_TYPE, memory_key_problem, type_name
from trax.core.cancellation import CancellationToken
from trax.core.errors import TrainDeclarationError


class Junction:
    """One step of a train. Subclass it and define ``run`` (sync or async); its annotated
    parameters are taken from the train's memory and its return value is stored back.

    A fresh instance runs each time; ``self.token`` is the run's cancellation token.
    """

    name: ClassVar[str | None] = None
    token: CancellationToken

    def __init__(self) -> None:
        self.token = CancellationToken()


@dataclass(frozen=True)
class JunctionSpec:
    """What the engine needs to know about a junction, worked out once at declaration."""

    name: str
    target: Any
    inputs: tuple[tuple[str, type], ...]
    token_parameter: str | None
    output: type | None
    is_async: bool
    is_class: bool

    def bind(self, token: CancellationToken) -> Callable[..., Any]:
        """The callable to invoke for one run: a fresh junction's ``run``, or the function."""
        if self.is_class:
            instance = self.target()
            instance.token = token
            return typing.cast(Callable[..., Any], instance.run)
        return typing.cast(Callable[..., Any], self.target)


def describe_junction(step: Any, *, train_name: str) -> JunctionSpec:
    """Read a junction's inputs and output from its annotations; refuse what memory can't key."""
    is_class = isinstance(step, type)
    if is_class:
        if not issubclass(step, Junction):
            raise TrainDeclarationError(
                f"{train_name}: {type_name(step)} is not a Junction subclass or a function"
            )
        function = getattr(step, "run", None)
        if function is None or not callable(function):
            raise TrainDeclarationError(f"{train_name}: junction {step.__name__} has no run()")
        name = step.__dict__.get("name") or step.__name__
    elif inspect.isfunction(step):
        function = step
        name = step.__name__
    else:
        raise TrainDeclarationError(
            f"{train_name}: {step!r} is not a Junction subclass or a function"
        )

    where = f"{train_name}: junction {name}"
    try:
        hints = typing.get_type_hints(function)
    except Exception as error:
        raise TrainDeclarationError(
            f"{where} has annotations that cannot be resolved: {error}"
        ) from None

    parameters = list(inspect.signature(function).parameters.values())
    if is_class:
        parameters = parameters[1:]  # self
    inputs: list[tuple[str, type]] = []
    token_parameter: str | None = None
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TrainDeclarationError(f"{where} takes *args/**kwargs; name each input")
        if parameter.name not in hints:
            raise TrainDeclarationError(
                f"{where}: parameter {parameter.name!r} has no type annotation"
            )
        annotation = hints[parameter.name]
        if annotation is CancellationToken:
            token_parameter = parameter.name
            continue
        problem = memory_key_problem(annotation)
        if problem:
            raise TrainDeclarationError(f"{where}: parameter {parameter.name!r}: {problem}")
        inputs.append((parameter.name, annotation))

    if "return" not in hints:
        raise TrainDeclarationError(f"{where} has no return annotation (use -> None)")
    returned = hints["return"]
    output: type | None
    if returned is None or returned is NONE_TYPE:
        output = None
    else:
        problem = memory_key_problem(returned)
        if problem:
            raise TrainDeclarationError(f"{where}: return type: {problem}")
        output = returned

    return JunctionSpec(
        name=name,
        target=step,
        inputs=tuple(inputs),
        token_parameter=token_parameter,
        output=output,
        is_async=inspect.iscoroutinefunction(function),
        is_class=is_class,
    )
