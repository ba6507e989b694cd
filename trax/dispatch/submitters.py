"""Job submitters: where a dispatched run goes. The database submitter writes background jobs
for workers; the inline one runs the train at once in the dispatching thread; projects may plug
in their own (HTTP, SQS, ...) through settings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

from django.utils.module_loading import import_string

from trax.store import DispatchedRun

logger = logging.getLogger("trax.dispatch")


@dataclass(frozen=True)
class SubmitFailure:
    """A run a submitter could not hand over, and why."""

    run: DispatchedRun
    reason: str


@runtime_checkable
class JobSubmitter(Protocol):
    """Hands dispatched (pending) runs to something that will execute them.

    ``writes_background_jobs``: the dispatcher writes the runs' background jobs in its own
    transaction and ``submit`` is not called. Otherwise the runs are committed first, then
    ``submit`` is called; it returns the runs it could not hand over (they are failed as
    ``DispatchFailed`` and requeued while dispatch attempts remain).
    """

    name: ClassVar[str]
    writes_background_jobs: ClassVar[bool]

    def submit(self, runs: Sequence[DispatchedRun]) -> list[SubmitFailure]: ...


class DatabaseSubmitter:
    """Background jobs in ``trax_background_job``, claimed by workers (the default)."""

    name = "database"
    writes_background_jobs = True

    def submit(self, runs: Sequence[DispatchedRun]) -> list[SubmitFailure]:
        return []


class InlineSubmitter:
    """Runs each train at once, in the dispatching thread (tests, the simplest set-ups)."""

    name = "inline"
    writes_background_jobs = False

    def submit(self, runs: Sequence[DispatchedRun]) -> list[SubmitFailure]:
        from trax.effects.from_settings import default_service

        service = default_service()
        for run in runs:
            service.execute(run.metadata_id)
        return []


BUILT_IN: dict[str, type] = {
    "database": DatabaseSubmitter,
    "inline": InlineSubmitter,
}


def load_submitter(reference: str) -> JobSubmitter:
    """A submitter from a built-in name or a dotted path to a class taking no arguments (from
    settings, never from the database)."""
    cls = BUILT_IN.get(reference) or import_string(reference)
    submitter = cls()
    if not isinstance(submitter, JobSubmitter):
        raise TypeError(
            f"{reference} is not a job submitter (needs name, writes_background_jobs, submit)"
        )
    return submitter


class SubmitterRouter:
    """Chooses each train's submitter: a per-train route, else the default."""

    def __init__(self, default: str, routes: dict[str, str]) -> None:
        self.default = load_submitter(default)
        self.routes = {train: load_submitter(ref) for train, ref in routes.items()}

    def for_train(self, train_name: str) -> JobSubmitter:
        """The submitter of ``train_name``."""
        return self.routes.get(train_name, self.default)
