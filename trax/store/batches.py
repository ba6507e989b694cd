"""Batch writes that isolate a bad row: when the database (or the code building a row) refuses
a batch, it is split until the rows it refuses are found; every other row is written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import InterfaceError, OperationalError, transaction

T = TypeVar("T")
_CONNECTION_ERRORS = (OperationalError, InterfaceError)
R = TypeVar("R")


@dataclass(frozen=True)
class IsolatedWrite(Generic[T, R]):
    """What a batch write did: what ``write`` returned for each part it accepted, and the rows
    refused with their errors."""

    results: tuple[R, ...] = ()
    refused: tuple[tuple[T, Exception], ...] = ()


def write_isolating(
    items: Sequence[T], write: Callable[[Sequence[T]], R], *, using: str
) -> IsolatedWrite[T, R]:
    """``write(items)`` in one transaction (a savepoint inside the caller's); if it raises, the
    rows it refuses are found by halving, and the others written. When the first and the last
    row both fail alone too, the fault is the database's, not a row's: the error is raised (a
    full disk must not cost a statement per row). A lost connection is always raised."""
    if not items:
        return IsolatedWrite()
    outcome = _attempt(items, write, using=using)
    if isinstance(outcome, IsolatedWrite):
        return outcome
    if len(items) == 1:  # one row alone: nothing to tell a bad row from a bad database
        return IsolatedWrite(refused=((items[0], outcome),))
    first = _bisect(items[:1], write, using=using)
    last = _bisect(items[-1:], write, using=using)
    if first.refused and last.refused:
        raise outcome
    middle = _bisect(items[1:-1], write, using=using)
    return IsolatedWrite(
        first.results + middle.results + last.results,
        first.refused + middle.refused + last.refused,
    )


def _bisect(
    items: Sequence[T], write: Callable[[Sequence[T]], R], *, using: str
) -> IsolatedWrite[T, R]:
    if not items:
        return IsolatedWrite()
    outcome = _attempt(items, write, using=using)
    if isinstance(outcome, IsolatedWrite):
        return outcome
    if len(items) == 1:
        return IsolatedWrite(refused=((items[0], outcome),))
    middle = len(items) // 2
    left = _bisect(items[:middle], write, using=using)
    right = _bisect(items[middle:], write, using=using)
    return IsolatedWrite(left.results + right.results, left.refused + right.refused)


def _attempt(
    items: Sequence[T], write: Callable[[Sequence[T]], R], *, using: str
) -> IsolatedWrite[T, R] | Exception:
    """What ``write`` returned, in a result; or the error it raised (a lost connection is
    raised, never returned)."""
    try:
        with transaction.atomic(using=using):
            result = write(items)
    except _CONNECTION_ERRORS:
        raise
    except Exception as error:
        return error
    return IsolatedWrite((result,))
