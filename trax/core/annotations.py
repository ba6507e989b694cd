"""Checks that a declared type can key memory: a concrete class, not a bare generic or union."""

from __future__ import annotations

import types
import typing
from typing import Any

NONE_TYPE = type(None)


def type_name(value: Any) -> str:
    """A readable name for a type or annotation (``Order``, ``list[int]``)."""
    if isinstance(value, type) and not isinstance(value, types.GenericAlias):
        return value.__qualname__
    return repr(value).replace("typing.", "")


def memory_key_problem(annotation: Any) -> str | None:
    """Why ``annotation`` cannot key memory, or None if it can (an exact, plain class)."""
    if annotation is typing.Any:
        return "Any is not a class"
    if typing.get_origin(annotation) is not None or isinstance(annotation, types.GenericAlias):
        return (
            f"{type_name(annotation)} is a generic or union type; memory is keyed by exact "
            "class, so wrap the value in a dataclass or model"
        )
    if not isinstance(annotation, type):
        return f"{annotation!r} is not a class"
    if annotation.__parameters__ if hasattr(annotation, "__parameters__") else False:
        return f"{type_name(annotation)} is a bare generic class; give it a concrete subclass"
    return None
