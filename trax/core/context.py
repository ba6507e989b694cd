"""The run a junction is part of, reachable through ``current_run()`` (a context variable)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from trax.core.cancellation import CancellationToken
from trax.core.errors import NoActiveRun


@dataclass(frozen=True)
class RunContext:
    """The identity and token of a running train. Ids are None for unrecorded runs."""

    train_name: str
    token: CancellationToken
    run_id: int | None = None
    external_id: str | None = None
    manifest_id: int | None = None
    parent: RunContext | None = None
    #: Which attempt of its work this run is (1 = the first; retries count up).
    attempt: int | None = None
    extras: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


_current_run: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "trax_current_run", default=None
)


def current_run() -> RunContext:
    """The run the calling junction belongs to; raises NoActiveRun outside a run."""
    context = _current_run.get()
    if context is None:
        raise NoActiveRun("current_run() was called outside a running train")
    return context


def current_run_or_none() -> RunContext | None:
    """The current run, or None outside a run."""
    return _current_run.get()


@contextmanager
def activate(context: RunContext) -> Iterator[RunContext]:
    """Make ``context`` the current run for the duration of the block."""
    reset = _current_run.set(context)
    try:
        yield context
    finally:
        _current_run.reset(reset)
