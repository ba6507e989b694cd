"""One-off runs: ``trax.enqueue`` and ``trax.enqueue_many`` queue a train with an input, no
manifest. The returned external id is the handle of the whole lineage (retries, requeues)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from trax.conf import effective_settings
from trax.core import Train
from trax.core.serialization import normalise
from trax.metrics.tracing import current_trace_parent
from trax.registry import registry, resolve_train
from trax.scheduling.errors import ScheduleError
from trax.scheduling.options import (
    MAX_RETRIES,
    MAX_SCHEDULE_SECONDS,
    check_priority,
    to_seconds,
)
from trax.store import NewWorkEntry, work_queue_enqueue_direct, work_queue_insert


def enqueue(
    train: type[Train[Any, Any]] | str,
    input: Any = None,
    *,
    priority: int = 0,
    run_at: datetime | None = None,
    delay: timedelta | int | float | None = None,
    max_retries: int = 0,
    using: str = "default",
) -> uuid.UUID:
    """Queue one run of a registered train; returns the work entry's external id at once.

    Inside ``transaction.atomic()`` the work is queued only if the caller commits. Refuses an
    unregistered train, bad input or bad options before writing anything.
    """
    return enqueue_many(
        train,
        [input],
        priority=priority,
        run_at=run_at,
        delay=delay,
        max_retries=max_retries,
        using=using,
    )[0]


def enqueue_many(
    train: type[Train[Any, Any]] | str,
    inputs: Iterable[Any],
    *,
    priority: int = 0,
    run_at: datetime | None = None,
    delay: timedelta | int | float | None = None,
    max_retries: int = 0,
    using: str = "default",
) -> list[uuid.UUID]:
    """Queue one run per input in one statement per 500; external ids are assigned up front.
    Every input is validated first: one bad input queues nothing."""
    train_class = resolve_train(train)
    name = train_class.canonical_name()
    if name not in registry or registry.get(name) is not train_class:
        raise ScheduleError(
            f"{name} is not registered; only registered trains can be queued "
            "(decorate it with @trax.register)",
            field="train",
        )
    check_priority(priority, field="priority")
    if (
        isinstance(max_retries, bool)
        or not isinstance(max_retries, int)
        or not 0 <= max_retries <= MAX_RETRIES
    ):
        raise ScheduleError(
            f"max_retries must be an int from 0 to {MAX_RETRIES}; got {max_retries!r}",
            field="max_retries",
        )
    scheduled_at = _scheduled_at(run_at, delay)
    limit = effective_settings(using=using).MAX_INPUT_BYTES
    payloads = [
        normalise(train_class.input_type, value, what=f"input of {name}", max_bytes=limit)[1]
        for value in inputs
    ]
    if scheduled_at is None and _uncapped(name, using=using):
        external_ids = [uuid.uuid4() for _ in payloads]
        work_queue_enqueue_direct(
            train_name=name,
            external_ids=external_ids,
            inputs=payloads,
            priority=priority,
            max_retries=max_retries,
            using=using,
            trace_parent=current_trace_parent(),
        )
        return external_ids
    entries = [
        NewWorkEntry(
            external_id=uuid.uuid4(),
            train_name=name,
            input=payload,
            priority=priority,
            scheduled_at=scheduled_at,
            max_retries=max_retries,
        )
        for payload in payloads
    ]
    work_queue_insert(entries, using=using)
    return [entry.external_id for entry in entries]


def _uncapped(train_name: str, *, using: str) -> bool:
    """Whether work of ``train_name`` may skip the dispatcher (``DIRECT_DISPATCH``): no global
    cap to count it against (a one-off has no group) and the database submitter takes it."""
    conf = effective_settings(using=using)
    submitter = conf.SUBMITTER_ROUTES.get(train_name, conf.SUBMITTER)
    return conf.DIRECT_DISPATCH and conf.MAX_ACTIVE_JOBS is None and submitter == "database"


def _scheduled_at(
    run_at: datetime | None, delay: timedelta | int | float | None
) -> datetime | None:
    if run_at is not None and delay is not None:
        raise ScheduleError("give run_at or delay, not both", field="run_at")
    if run_at is not None:
        if not isinstance(run_at, datetime) or timezone.is_naive(run_at):
            raise ScheduleError(f"run_at must be an aware datetime; got {run_at!r}", field="run_at")
        return run_at
    if delay is None:
        return None
    if isinstance(delay, timedelta):
        seconds = delay.total_seconds()
    elif isinstance(delay, int | float) and not isinstance(delay, bool):
        seconds = float(delay)
    else:
        raise ScheduleError(f"delay must be seconds or a timedelta; got {delay!r}", field="delay")
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SCHEDULE_SECONDS:
        raise ScheduleError(
            f"delay must be a number of seconds from 0 to {MAX_SCHEDULE_SECONDS}; got {delay!r}",
            field="delay",
        )
    return timezone.now() + timedelta(seconds=seconds)


__all__ = ["enqueue", "enqueue_many", "to_seconds"]
