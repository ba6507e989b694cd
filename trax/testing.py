"""Helpers for your own test suite: test schedules and queued work without processes.

- ``registered_trains``: register a test's own trains for a block (only registered trains run
  or are queued).
- ``run_scheduler_cycle``: one manager cycle at a chosen time (due schedules, dependents,
  retries, dead letters).
- ``drain``: dispatch and run everything that may run now, in the test's thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trax.core import CancellationToken, Train
from trax.dispatch.cycle import run_dispatcher_cycle
from trax.effects.finishers import Landed, Landing
from trax.effects.from_settings import build_service
from trax.manager.cycle import CycleReport, run_manager_cycle
from trax.models import Log
from trax.registry import UnknownTrainError, registry
from trax.store import (
    ClaimedRun,
    Completion,
    RunOutcome,
    background_job_claim,
    background_job_complete,
    log_write_batch,
    run_records_alias,
)


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


def run_scheduler_cycle(now: datetime | None = None, *, using: str | None = None) -> CycleReport:
    """One manager cycle at ``now`` (an aware datetime; default: the database's clock): due
    schedules, dependents, retries and dead letters are queued as in production, so a test can
    walk a schedule through DST changes, misfires or a chain of dependents without a process."""
    return run_manager_cycle(now, using=using)


@dataclass(frozen=True)
class Drained:
    """What ``drain`` ran: the run ids in the order they ran, and their final states."""

    run_ids: tuple[int, ...]
    states: dict[int, str]


def drain(
    *, now: datetime | None = None, using: str | None = None, max_runs: int = 10_000
) -> Drained:
    """Run every queued and dispatched run in this thread, as workers would (dispatcher at
    ``now``, claims fenced by their tokens, batch completions), until nothing is left that may
    run now; runs queued by the runs themselves are drained too, up to ``max_runs``."""
    alias = using or run_records_alias()
    service = build_service(poll_cancel_flag=False)
    ran: list[int] = []
    states: dict[int, str] = {}
    while len(ran) < max_runs:
        run_dispatcher_cycle(now, using=alias)
        claimed = background_job_claim(
            worker_id=_TEST_WORKER,
            limit=min(100, max_runs - len(ran)),
            lease_seconds=300.0,
            host=service.host,
            executor=service.executor,
            using=alias,
        )
        if not claimed:
            break
        for run in claimed:
            finisher = _InlineFinisher(run, using=alias)
            execution = service.run_claimed(run, token=CancellationToken(), finisher=finisher)
            ran.append(run.metadata_id)
            states[run.metadata_id] = str(execution.state)
    return Drained(tuple(ran), states)


_TEST_WORKER = "trax.testing/drain"


class _InlineFinisher:
    """Completes one claimed run at once through the workers' batch completion (one-item
    batch), so claims, fencing and manifest success stamps behave as in a worker."""

    def __init__(self, run: ClaimedRun, *, using: str) -> None:
        self.run = run
        self.using = using

    def finish(
        self,
        metadata_id: int,
        outcome: RunOutcome,
        manifest_id: int | None,
        *,
        logs: Sequence[Log] = (),
    ) -> Landing:
        log_write_batch(logs, using=self.using)
        landed = background_job_complete(
            [
                Completion(
                    metadata_id=metadata_id,
                    claim_token=self.run.claim_token,
                    outcome=outcome,
                    manifest_id=manifest_id,
                )
            ],
            using=self.using,
        )
        return Landed(metadata_id in landed)
