"""Helpers shared by the dispatch, store, worker and event tests: work through the public API
(``trax.enqueue``, ``trax.scheduler``), runs through the dispatcher, claims through the store.

Every ``now`` is injected; nothing sleeps in the hope that something happened: ``wait_until``
polls database state with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

import trax
from trax.dispatch.config import DispatcherConfig
from trax.dispatch.context import DispatchCycle
from trax.dispatch.cycle import DispatchReport, run_dispatcher_cycle
from trax.models import BackgroundJob, Manifest, Metadata, WorkQueue
from trax.store import HostStamp, database_now
from trax.store.background_jobs.claim import ClaimedRun, background_job_claim

GREET = "demo.greet"
FAILS = "demo.always_fails"
SLOW = "demo.slow"
PERSON = {"name": "Ada"}
HOST = HostStamp(name="test-host", environment="test-env", instance_id="i-42", labels={"k": "v"})
EXECUTOR = "test-executor"


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def cycle_at(now: datetime | None = None, **config: Any) -> DispatchCycle:
    """A dispatcher cycle at ``now`` (default: the wall clock) on ``default``."""
    return DispatchCycle(
        now=now or timezone.now(), config=DispatcherConfig(**config), using="default"
    )


def dispatch_all(now: datetime | None = None, **config: Any) -> DispatchReport:
    """One full dispatcher cycle with no global cap unless ``config`` says otherwise."""
    config.setdefault("max_active_jobs", None)
    return run_dispatcher_cycle(
        now or timezone.now(), config=DispatcherConfig(**config), using="default"
    )


def enqueue_jobs(n: int, train: str = GREET, input: Any = None, **options: Any) -> list[Metadata]:
    """Queue ``n`` one-off runs and dispatch them to background jobs; returns their runs."""
    ids = trax.enqueue_many(train, [PERSON if input is None else input] * n, **options)
    dispatch_all()
    runs = list(Metadata.objects.filter(work_queue__external_id__in=ids).order_by("id"))
    assert len(runs) == n
    return runs


def claim(
    worker: str = "w-1", *, limit: int = 100, lease: float = 30.0, using: str = "default"
) -> list[ClaimedRun]:
    return background_job_claim(
        worker_id=worker,
        limit=limit,
        lease_seconds=lease,
        host=HOST,
        executor=EXECUTOR,
        using=using,
    )


def manifest(external_id: str, train: str = GREET, **options: Any) -> Manifest:
    """A manifest every 5 minutes (options: group, priority, enabled, ...)."""
    return trax.scheduler.schedule(external_id, train, PERSON, trax.Every.minutes(5), **options)


def queue_entry(m: Manifest | None = None, **fields: Any) -> WorkQueue:
    """A queued entry written directly (as the manager's due step would)."""
    fields.setdefault("train_name", m.train_name if m else GREET)
    fields.setdefault("input", PERSON)
    return WorkQueue.objects.create(manifest=m, **fields)


def expire_lease(job_filter: dict[str, Any], by: float = 1.0) -> None:
    """Move the leases of matching jobs ``by`` seconds into the past (database time)."""
    BackgroundJob.objects.filter(**job_filter).update(
        lease_expires_at=database_now("default") - seconds(by)
    )


def wait_until(
    condition: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll ``condition`` (database state) until it holds, failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def user_runs() -> Any:
    """Runs other than trax's own housekeeping records."""
    return Metadata.objects.exclude(name__startswith="trax.")
