"""One-off work that no cap applies to, written straight to the job queue: the work entry
(already dispatched), its pending run and its background job in one statement, so a worker can
start it without waiting for the dispatcher."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from django.db import connections, transaction

from trax.events.channels import JOBS_READY
from trax.events.notify import notify
from trax.models import BackgroundJob, Metadata, WorkQueue, WorkQueueStatus
from trax.store.queries import execute_named

CHUNK = 1000


def work_queue_enqueue_direct(
    *,
    train_name: str,
    external_ids: Sequence[uuid.UUID],
    inputs: Sequence[Any],
    priority: int,
    max_retries: int,
    using: str,
    trace_parent: str = "",
) -> None:
    """Queue one run of ``train_name`` per input as dispatched work with its background job.
    Joins the caller's transaction on ``using`` (the workers are notified when it commits)."""
    if not external_ids:
        return
    connection = connections[using]
    if connection.vendor != "postgresql":
        _enqueue_direct_orm(
            train_name, external_ids, inputs, priority, max_retries, using, trace_parent
        )
        return
    # Several statements must commit together: one call queues all its work or none.
    chunked = len(external_ids) > CHUNK
    with transaction.atomic(using=using) if chunked else nullcontext():
        for start in range(0, len(external_ids), CHUNK):
            _execute_chunk(
                connection,
                train_name,
                external_ids[start : start + CHUNK],
                inputs[start : start + CHUNK],
                priority,
                max_retries,
                trace_parent,
            )


def _execute_chunk(
    connection: Any,
    train_name: str,
    external_ids: Sequence[uuid.UUID],
    inputs: Sequence[Any],
    priority: int,
    max_retries: int,
    trace_parent: str,
) -> None:
    execute_named(
        connection,
        "work_queue_enqueue_direct",
        {
            "external_ids": list(external_ids),
            "inputs": [None if value is None else json.dumps(value) for value in inputs],
            "train": train_name,
            "priority": priority,
            "max_retries": max_retries,
            "channel": JOBS_READY,
            "trace_parent": trace_parent,
        },
    )


def _enqueue_direct_orm(
    train_name: str,
    external_ids: Sequence[uuid.UUID],
    inputs: Sequence[Any],
    priority: int,
    max_retries: int,
    using: str,
    trace_parent: str,
) -> None:
    """The same through the ORM (SQLite: one writer at a time, nobody to notify)."""
    with transaction.atomic(using=using):
        entries = WorkQueue.objects.using(using).bulk_create(
            [
                WorkQueue(
                    external_id=external_id,
                    train_name=train_name,
                    input=value,
                    priority=priority,
                    max_retries=max_retries,
                    status=WorkQueueStatus.DISPATCHED,
                    trace_parent=trace_parent,
                )
                for external_id, value in zip(external_ids, inputs, strict=True)
            ],
            batch_size=500,
        )
        runs = Metadata.objects.using(using).bulk_create(
            [
                Metadata(
                    name=train_name,
                    input=entry.input,
                    work_queue_id=entry.pk,
                    trace_parent=trace_parent,
                )
                for entry in entries
            ],
            batch_size=500,
        )
        for entry, run in zip(entries, runs, strict=True):
            entry.metadata_id = run.pk
            entry.dispatched_at = entry.created_at
        WorkQueue.objects.using(using).bulk_update(
            entries, ["metadata_id", "dispatched_at"], batch_size=500
        )
        BackgroundJob.objects.using(using).bulk_create(
            [BackgroundJob(metadata_id=run.pk, priority=priority) for run in runs],
            batch_size=500,
        )
        notify(JOBS_READY, using=using)
