"""Claiming background jobs: one statement claims a batch with ``FOR UPDATE SKIP LOCKED`` and
starts its runs (the guarded ``pending -> in_progress``), with a lease in database time and a
claim token that fences every later write."""

from __future__ import annotations

import json
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction

from trax.events.channels import CHANGED
from trax.store.queries import execute_named, query
from trax.store.runs.metadata import HostStamp

# A queue table is mostly empty when its statistics are taken; the claim connection keeps to
# index plans whatever they say, or a backlog would be scanned whole on every claim. Set once
# per connection (session level), so the claim itself stays one statement in autocommit.
_INDEX_PLANS_ONLY = (
    "SET enable_seqscan = off; SET enable_bitmapscan = off; "
    "SET enable_hashjoin = off; SET enable_mergejoin = off"
)
_planned: weakref.WeakSet[Any] = weakref.WeakSet()


@dataclass(frozen=True)
class ClaimedRun:
    """A started run this worker now holds."""

    job_id: int
    metadata_id: int
    name: str
    input: Any
    external_id: uuid.UUID
    manifest_id: int | None
    parent_id: int | None
    attempt: int
    work_queue_id: int | None
    claim_token: uuid.UUID
    #: Seconds from when the run was due (scheduled, or its record made) to its start.
    waited: float | None = None
    #: W3C ``traceparent`` of the code that queued the run; '' when untraced.
    trace_parent: str = ""


def background_job_claim(
    *,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    host: HostStamp,
    executor: str,
    using: str,
) -> list[ClaimedRun]:
    """Claim up to ``limit`` free jobs and start their runs, in one transaction. Jobs whose run
    was cancelled or reaped before it started are deleted instead."""
    if limit <= 0:
        return []
    token = uuid.uuid4()
    connection = connections[using]
    params: dict[str, Any] = {
        "limit": limit,
        "worker": worker_id,
        "lease": lease_seconds,
        "executor": executor,
        "host_name": host.name,
        "host_environment": host.environment,
        "host_instance_id": host.instance_id,
        "host_labels": json.dumps(host.labels),
    }
    if connection.vendor == "postgresql":
        rows = _claim_postgresql(connection, {**params, "token": token, "changed": CHANGED})
        return [_claimed(row, token) for row in rows]
    with transaction.atomic(using=using):
        rows = _claim_sqlite(connection, params, token)
        dead = [row[0] for row in rows if row[2] is None]
        if dead:
            with connection.cursor() as cursor:
                placeholders = ", ".join(["%s"] * len(dead))
                cursor.execute(
                    f"DELETE FROM trax_background_job WHERE id IN ({placeholders})", dead
                )
    return [_claimed(row, token) for row in rows if row[2] is not None]


def _claim_postgresql(connection: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One statement in autocommit (unless the caller holds a transaction): claims, starts
    and drops dead jobs together."""
    keep_to_indexes(connection)
    return execute_named(connection, "background_job_claim", params)


def keep_to_indexes(connection: Any) -> None:
    """Set the claim's planner settings on ``connection`` (PostgreSQL), once per connection."""
    connection.ensure_connection()
    if connection.connection not in _planned:
        with connection.cursor() as cursor:
            cursor.execute(_INDEX_PLANS_ONLY)
        _planned.add(connection.connection)


def _claimed(row: tuple[Any, ...], token: uuid.UUID) -> ClaimedRun:
    job_id, metadata_id, name, data, external_id, manifest_id, parent_id, attempt, entry = row[:9]
    waited, trace_parent = row[9], row[10]
    return ClaimedRun(
        job_id=job_id,
        metadata_id=metadata_id,
        name=name,
        input=json.loads(data) if isinstance(data, str) else data,
        external_id=external_id if isinstance(external_id, uuid.UUID) else uuid.UUID(external_id),
        manifest_id=manifest_id,
        parent_id=parent_id,
        attempt=attempt,
        work_queue_id=entry,
        claim_token=token,
        waited=float(waited) if waited is not None else None,
        trace_parent=trace_parent or "",
    )


def _claim_sqlite(
    connection: Any, params: dict[str, Any], token: uuid.UUID
) -> list[tuple[Any, ...]]:
    """SQLite has one writer at a time (an IMMEDIATE transaction), so two statements suffice.
    Jobs whose run is no longer pending come back with NULL run columns."""
    sql = query("sqlite", "background_job_claim")
    start = query("sqlite", "metadata_start_claimed")
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [params["worker"], token.hex, f"+{params['lease']} seconds", params["limit"]]
        )
        jobs = cursor.fetchall()
        if not jobs:
            return []
        placeholders = ", ".join(["%s"] * len(jobs))
        cursor.execute(
            start.replace("{ids}", placeholders),
            [
                params["executor"],
                params["host_name"],
                params["host_environment"],
                params["host_instance_id"],
                params["host_labels"],
                *[metadata_id for _, metadata_id in jobs],
            ],
        )
        started = {row[0]: row[1:] for row in cursor.fetchall()}
    empty = (None,) * 9
    return [(job_id, metadata_id, *started.get(metadata_id, empty)) for job_id, metadata_id in jobs]
