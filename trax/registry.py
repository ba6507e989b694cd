"""Canonical train names -> train classes: the allow-list of what may run by name."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, overload

from trax.core import Train, TraxError

TrainT = TypeVar("TrainT", bound=type[Train[Any, Any]])


class UnknownTrainError(TraxError, LookupError):
    """A train name that is not registered (refused before anything is written)."""


class DuplicateTrainError(TraxError, ValueError):
    """Two different classes registered under one canonical name."""


class TrainRegistry:
    """Registered trains by canonical name; only these run by name."""

    def __init__(self) -> None:
        self._trains: dict[str, type[Train[Any, Any]]] = {}
        self._lock = threading.Lock()

    def add(self, train: type[Train[Any, Any]]) -> type[Train[Any, Any]]:
        """Register ``train`` under its canonical name; a different class on a taken name is an
        error."""
        if not (isinstance(train, type) and issubclass(train, Train)):
            raise TypeError(f"{train!r} is not a Train subclass")
        if train.is_abstract:
            raise TypeError(f"{train.__qualname__} is abstract and cannot be registered")
        name = train.canonical_name()
        with self._lock:
            existing = self._trains.get(name)
            if existing is not None and _qualified(existing) != _qualified(train):
                raise DuplicateTrainError(
                    f"train name {name!r} is taken by {_qualified(existing)}; "
                    f"cannot register {_qualified(train)}"
                )
            self._trains[name] = train
        return train

    def remove(self, name: str) -> None:
        """Forget a registration (for tests)."""
        with self._lock:
            self._trains.pop(name, None)

    def get(self, name: str) -> type[Train[Any, Any]]:
        """The train registered as ``name``; UnknownTrainError otherwise."""
        if not isinstance(name, str):
            raise UnknownTrainError(f"train names are strings; got {name!r}")
        try:
            return self._trains[name]
        except KeyError:
            raise UnknownTrainError(f"no train is registered as {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._trains

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._trains)


def _qualified(train: type) -> str:
    return f"{train.__module__}.{train.__qualname__}"


registry = TrainRegistry()


@overload
def register(train: TrainT) -> TrainT: ...
@overload
def register(*, name: str) -> Callable[[TrainT], TrainT]: ...
def register(train: Any = None, *, name: str | None = None) -> Any:
    """Register a train (class decorator): ``@trax.register`` or ``@trax.register(name="x")``.

    ``name`` sets the canonical name (stable across refactors) when the class sets none.
    """

    def decorate(cls: TrainT) -> TrainT:
        if name is not None:
            own_name = cls.__dict__.get("name")
            if own_name is not None and own_name != name:
                raise DuplicateTrainError(
                    f"{cls.__qualname__} is named {own_name!r} already; cannot rename to {name!r}"
                )
            cls.name = name
        registry.add(cls)
        return cls

    if train is not None:
        return decorate(train)
    return decorate


def resolve_train(train: type[Train[Any, Any]] | str) -> type[Train[Any, Any]]:
    """A train class from a class or a registered name (unknown names raise)."""
    if isinstance(train, str):
        return registry.get(train)
    if isinstance(train, type) and issubclass(train, Train) and not train.is_abstract:
        return train
    raise UnknownTrainError(f"{train!r} is neither a registered train name nor a Train class")


def registered(train: type[Train[Any, Any]] | str) -> type[Train[Any, Any]]:
    """The train if it is the class registered under its name (only registered trains run or
    are queued), else ``UnknownTrainError`` naming the fix."""
    train_class = resolve_train(train)
    name = train_class.canonical_name()
    if name not in registry or registry.get(name) is not train_class:
        raise UnknownTrainError(
            f"{name} is not registered; only registered trains can run or be queued "
            "(decorate it with @trax.register)"
        )
    return train_class
