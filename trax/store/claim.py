"""Claiming background jobs: one statement claims a batch with ``FOR UPDATE SKIP LOCKED`` and
starts its runs (the guarded ``pending -> in_progress``), with a lease in database time and a
claim token that fences every later write."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction

from trax.store.metadata import HostStamp

# PostgreSQL: the CTE picks and locks (MATERIALIZED, so the LIMIT holds: never the
# UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED) shape), the second claims,
# the third starts the runs still pending. Jobs whose run is no longer pending come back with
# NULL run columns and are dropped by the caller.
_CLAIM_POSTGRESQL = """
WITH picked AS MATERIALIZED (
    SELECT id FROM trax_background_job
    WHERE claimed_by IS NULL
    ORDER BY priority DESC, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE trax_background_job AS job
    SET claimed_by = %(worker)s, claim_token = %(token)s,
        lease_expires_at = STATEMENT_TIMESTAMP() + make_interval(secs => %(lease)s)
    FROM picked WHERE job.id = picked.id
    RETURNING job.id, job.metadata_id
), started AS (
    UPDATE trax_metadata AS run
    SET train_state = 'in_progress', start_time = STATEMENT_TIMESTAMP(), executor = %(executor)s,
        host_name = %(host_name)s, host_environment = %(host_environment)s,
        host_instance_id = %(host_instance_id)s, host_labels = %(host_labels)s::jsonb
    FROM claimed WHERE run.id = claimed.metadata_id AND run.train_state = 'pending'
    RETURNING run.id, run.name, run.input, run.external_id, run.manifest_id, run.parent_id,
              run.attempt, run.work_queue_id
)
SELECT claimed.id, claimed.metadata_id, started.name, started.input, started.external_id,
       started.manifest_id, started.parent_id, started.attempt, started.work_queue_id
FROM claimed LEFT JOIN started ON started.id = claimed.metadata_id
"""


_INDEX_PLANS_ONLY = (
    "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; "
    "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"
)


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
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # A queue table is mostly empty when its statistics are taken; keep the claim on
                # its indexes whatever they say, or a backlog is scanned whole on every claim.
                cursor.execute(_INDEX_PLANS_ONLY)
                cursor.execute(_CLAIM_POSTGRESQL, {**params, "token": token})
                rows = cursor.fetchall()
        else:
            rows = _claim_sqlite(connection, params, token)
        claimed, dead = [], []
        for (
            job_id,
            metadata_id,
            name,
            data,
            external_id,
            manifest_id,
            parent_id,
            attempt,
            entry,
        ) in rows:
            if name is None:
                dead.append(job_id)
                continue
            claimed.append(
                ClaimedRun(
                    job_id=job_id,
                    metadata_id=metadata_id,
                    name=name,
                    input=json.loads(data) if isinstance(data, str) else data,
                    external_id=external_id
                    if isinstance(external_id, uuid.UUID)
                    else uuid.UUID(external_id),
                    manifest_id=manifest_id,
                    parent_id=parent_id,
                    attempt=attempt,
                    work_queue_id=entry,
                    claim_token=token,
                )
            )
        if dead:
            with connection.cursor() as cursor:
                placeholders = ", ".join(["%s"] * len(dead))
                cursor.execute(
                    f"DELETE FROM trax_background_job WHERE id IN ({placeholders})", dead
                )
    return claimed


def _claim_sqlite(
    connection: Any, params: dict[str, Any], token: uuid.UUID
) -> list[tuple[Any, ...]]:
    """SQLite has one writer at a time (an IMMEDIATE transaction), so two statements suffice."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE trax_background_job SET claimed_by = %s, claim_token = %s, "
            "lease_expires_at = STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW', %s) "
            "WHERE id IN (SELECT id FROM trax_background_job WHERE claimed_by IS NULL "
            "ORDER BY priority DESC, id LIMIT %s) RETURNING id, metadata_id",
            [params["worker"], token.hex, f"+{params['lease']} seconds", params["limit"]],
        )
        jobs = cursor.fetchall()
        if not jobs:
            return []
        placeholders = ", ".join(["%s"] * len(jobs))
        cursor.execute(
            "UPDATE trax_metadata SET train_state = 'in_progress', "
            "start_time = STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW'), executor = %s, "
            "host_name = %s, host_environment = %s, host_instance_id = %s, host_labels = %s "
            f"WHERE id IN ({placeholders}) AND train_state = 'pending' "
            "RETURNING id, name, input, external_id, manifest_id, parent_id, attempt, "
            "work_queue_id",
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
    empty = (None,) * 7
    return [(job_id, metadata_id, *started.get(metadata_id, empty)) for job_id, metadata_id in jobs]
