"""Helpers for your own test suite.

``registered_trains`` registers trains for the length of a block: only registered trains run
or are queued (``trax.run``, ``trax.enqueue``), and a test's own trains should not stay in the
registry for the tests after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from trax.core import Train
from trax.registry import UnknownTrainError, registry


@contextmanager
def registered_trains(*trains: type[Train[Any, Any]]) -> Iterator[None]:
    """Register ``trains`` inside the block; afterwards the registry is as it was."""
    before: dict[str, type[Train[Any, Any]] | None] = {}
    for train in trains:
        name = train.canonical_name()
        try:
            before.setdefault(name, registry.get(name))
        except UnknownTrainError:
            before.setdefault(name, None)
        registry.add(train)
    try:
        yield
    finally:
        for name, previous in before.items():
            registry.remove(name)
            if previous is not None:
                registry.add(previous)
