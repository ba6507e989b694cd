"""Factories for the manager tests: manifests through the public API, runs through the ORM.

Every test builds its own ``Cycle`` around an injected ``now`` (never sleeping). Times are
relative to ``clock`` (the wall clock when the test starts), because the runtime API stamps
``next_run_at`` from ``timezone.now()`` and the database stamps ``created_at`` and
``resolved_at`` from its own clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

import trax
from trax.manager.config import ManagerConfig
from trax.manager.context import Cycle
from trax.models import (
    BackgroundJob,
    Manifest,
    Metadata,
    TrainState,
    WorkQueue,
    WorkQueueStatus,
)

GREET = "demo.greet"
FAILS = "demo.always_fails"
SLOW = "demo.slow"
PERSON = {"name": "x"}


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def cycle_at(now: datetime, **config: Any) -> Cycle:
    """A cycle at ``now`` with ManagerConfig defaults except ``config``."""
    return Cycle(now=now, config=ManagerConfig(**config), using="default")


def reload(row: Any) -> Any:
    row.refresh_from_db()
    return row


@pytest.fixture
def clock() -> datetime:
    """The wall clock when the test starts (the reference for every injected ``now``)."""
    return timezone.now()


@pytest.fixture
def interval() -> Callable[..., Manifest]:
    """``interval("id", every=5, **options)``: a demo.greet manifest every ``every`` minutes
    (next_run_at: the wall clock when it is made)."""

    def make(external_id: str = "every-5", *, every: int = 5, **options: Any) -> Manifest:
        return trax.scheduler.schedule(
            external_id, GREET, PERSON, trax.Every.minutes(every), **options
        )

    return make


@pytest.fixture
def failing() -> Callable[..., Manifest]:
    """``failing("id", **options)``: a demo.always_fails manifest every 5 minutes."""

    def make(external_id: str = "flaky", **options: Any) -> Manifest:
        return trax.scheduler.schedule(external_id, FAILS, PERSON, trax.Every.minutes(5), **options)

    return make


def finished(
    manifest: Manifest | None,
    *,
    ended: datetime,
    state: str = TrainState.FAILED,
    exception: str = "PaymentDeclined",
    name: str | None = None,
    input: Any = None,
    **fields: Any,
) -> Metadata:
    """A run that ended at ``ended`` (failed by default), as if a worker had run it."""
    if state != TrainState.FAILED:
        exception = ""
    return Metadata.objects.create(
        name=name or (manifest.train_name if manifest else FAILS),
        manifest=manifest,
        input=PERSON if input is None else input,
        train_state=state,
        start_time=ended - seconds(1),
        end_time=ended,
        failure_exception=exception,
        cancel_reason="operator" if state == TrainState.CANCELLED else "",
        **fields,
    )


def running(
    manifest: Manifest | None = None,
    *,
    started: datetime,
    name: str = SLOW,
    **fields: Any,
) -> Metadata:
    """A run in progress since ``started``."""
    return Metadata.objects.create(
        name=name,
        manifest=manifest,
        input={"steps": 1, "seconds_per_step": 0.1},
        train_state=TrainState.IN_PROGRESS,
        start_time=started,
        **fields,
    )


def pending(
    manifest: Manifest | None = None, *, created: datetime | None = None, **fields: Any
) -> Metadata:
    """A pending run, created at ``created`` (default: now, by the database)."""
    row = Metadata.objects.create(
        name=manifest.train_name if manifest else GREET,
        manifest=manifest,
        input=PERSON,
        **fields,
    )
    if created is not None:
        Metadata.objects.filter(id=row.pk).update(created_at=created)
        row.refresh_from_db()
    return row


def claim(
    run: Metadata, *, lease_expires_at: datetime | None, worker: str | None = "w-1"
) -> BackgroundJob:
    """A background-job row for ``run``, claimed by ``worker`` until ``lease_expires_at``."""
    return BackgroundJob.objects.create(
        metadata=run, claimed_by=worker, lease_expires_at=lease_expires_at
    )


def queued(manifest: Manifest | None = None) -> list[WorkQueue]:
    rows = WorkQueue.objects.filter(status=WorkQueueStatus.QUEUED)
    if manifest is not None:
        rows = rows.filter(manifest=manifest)
    return list(rows.order_by("id"))


def dispatch(entry: WorkQueue) -> WorkQueue:
    """Mark a queued entry dispatched (what the dispatcher does), freeing the manifest's slot."""
    WorkQueue.objects.filter(id=entry.pk).update(status=WorkQueueStatus.DISPATCHED)
    return reload(entry)


@pytest.fixture
def fresh_run_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default RunService is built on first use and caches the run-records alias; build it
    anew for this test so it follows the atomic test's ``default`` alias."""
    from trax.effects.from_settings import reset_default_service

    reset_default_service()
