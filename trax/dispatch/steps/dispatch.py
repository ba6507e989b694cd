"""Step: create the chosen entries' runs and hand them to their submitters."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.core.signals import setting_changed
from django.db import connections
from django.dispatch import receiver

from trax.dispatch.context import DispatchCycle
from trax.dispatch.steps.capacity import Selected
from trax.dispatch.submitters import JobSubmitter, SubmitFailure, SubmitterRouter
from trax.housekeeping import report_refused
from trax.log_fields import run_fields
from trax.store import (
    DispatchedRun,
    QueuedEntry,
    work_queue_dispatch,
    work_queue_fail_dispatch,
    work_queue_postpone,
    write_isolating,
)

logger = logging.getLogger("trax.dispatch")

CHUNK = 500
#: How long an entry the database refused to dispatch waits before it is tried again.
POSTPONE_SECONDS = 60.0

_router: SubmitterRouter | None = None


def set_router(router: SubmitterRouter | None) -> None:
    """Install a submitter router (None: build it from settings on next use; settings
    changes reset it)."""
    global _router
    _router = router


@receiver(setting_changed)
def _forget_router(*, setting: str, **kwargs: Any) -> None:
    if setting == "TRAX":
        set_router(None)


def router() -> SubmitterRouter:
    """The installed router, or one built from settings."""
    global _router
    if _router is None:
        from trax.conf import get_settings

        conf = get_settings()
        _router = SubmitterRouter(conf.SUBMITTER, dict(conf.SUBMITTER_ROUTES))
    return _router


@dataclass(frozen=True)
class Dispatched:
    runs: int
    failed_submissions: int


def dispatch(cycle: DispatchCycle, selected: Selected) -> Dispatched:
    """Database submitter: runs, entry updates and background jobs of a batch in one
    transaction (NOTIFY on commit). Other submitters: commit the runs first, then submit, at
    most ``max_concurrent_dispatch`` at a time; a failed submission fails the run as
    ``DispatchFailed`` and requeues the entry while attempts remain."""
    by_submitter: dict[int, tuple[JobSubmitter, list[QueuedEntry]]] = {}
    routes = router()
    for entry in selected.entries:
        submitter = routes.for_train(entry.train_name)
        by_submitter.setdefault(id(submitter), (submitter, []))[1].append(entry)
    created = failed = 0
    for submitter, entries in by_submitter.values():
        for start in range(0, len(entries), CHUNK):
            written = write_isolating(
                entries[start : start + CHUNK],
                partial(
                    work_queue_dispatch,
                    with_jobs=submitter.writes_background_jobs,
                    using=cycle.using,
                ),
                using=cycle.using,
            )
            _postpone_refused(cycle, written.refused)
            runs = [run for part in written.results for run in part]
            created += len(runs)
            if not submitter.writes_background_jobs and runs:
                failed += _submit(cycle, submitter, runs)
    return Dispatched(runs=created, failed_submissions=failed)


def _postpone_refused(
    cycle: DispatchCycle, refused: Sequence[tuple[QueuedEntry, Exception]]
) -> None:
    """Entries the database would not dispatch are reported and wait ``POSTPONE_SECONDS``, so
    one bad entry neither stops the batch nor holds the head of the queue."""
    report_refused(
        cycle,
        "dispatch",
        refused,
        lambda entry: f"work entry {entry.id} ({entry.train_name})",
    )
    work_queue_postpone(
        [entry.id for entry, _ in refused],
        cycle.now + timedelta(seconds=POSTPONE_SECONDS),
        using=cycle.using,
    )


def _submit(cycle: DispatchCycle, submitter: JobSubmitter, runs: list[DispatchedRun]) -> int:
    workers = max(1, cycle.config.max_concurrent_dispatch)
    failures: list[SubmitFailure] = []
    if workers == 1 or len(runs) == 1:
        failures = _safely(submitter, runs)
    else:
        buckets: dict[int, list[DispatchedRun]] = defaultdict(list)
        for index, run in enumerate(runs):
            buckets[index % workers].append(run)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(
                lambda batch: _on_own_thread(submitter, batch), buckets.values()
            ):
                failures.extend(result)
    for failure in failures:
        requeued = work_queue_fail_dispatch(
            failure.run,
            reason=failure.reason,
            max_dispatch_attempts=cycle.config.max_dispatch_attempts,
            using=cycle.using,
        )
        logger.warning(
            "submitting run %s to %s failed (%s); %s",
            failure.run.metadata_id,
            submitter.name,
            failure.reason,
            "requeued" if requeued else "dispatch attempts exhausted",
            extra=run_fields(
                failure.run.metadata_id, failure.run.entry.train_name, failure.run.entry.attempt
            ),
        )
    return len(failures)


def _safely(submitter: JobSubmitter, runs: list[DispatchedRun]) -> list[SubmitFailure]:
    """A submitter that raises fails all its runs (the caller's transaction is left alone)."""
    try:
        return list(submitter.submit(runs))
    except Exception as error:
        return [SubmitFailure(run, f"{type(error).__name__}: {error}") for run in runs]


def _on_own_thread(submitter: JobSubmitter, runs: list[DispatchedRun]) -> list[SubmitFailure]:
    """``_safely`` on a pool thread, closing the connections it opened there."""
    try:
        return _safely(submitter, runs)
    finally:
        connections.close_all()
