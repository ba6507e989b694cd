"""A train's memory: values keyed by their exact class."""

from __future__ import annotations

from typing import Any, TypeVar

from trax.core.annotations import type_name
from trax.core.errors import MissingInputError

T = TypeVar("T")


class Memory:
    """Holds the train input and every junction output; a later value of a class replaces the
    earlier one."""

    def __init__(self) -> None:
        self._values: dict[type, Any] = {}

    def put(self, key: type[T], value: T) -> None:
        """Store ``value`` under ``key``."""
        self._values[key] = value

    def get(self, key: type[T]) -> T:
        """The value stored under ``key``; MissingInputError if there is none."""
        try:
            return self._values[key]
        except KeyError:
            raise MissingInputError(f"memory holds no {type_name(key)}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def types(self) -> tuple[type, ...]:
        """The classes currently held."""
        return tuple(self._values)
