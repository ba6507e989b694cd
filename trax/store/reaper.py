"""The reaper's writes: jobs whose lease expired belong to a worker that is gone."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections, transaction

from trax.events.channels import CAPACITY_FREED
from trax.events.notify import notify
from trax.store.clock import database_now_sql

WORKER_LOST_REASON = "the worker holding this run stopped renewing its lease (process died?)"


@dataclass(frozen=True)
class ReapReport:
    """What one pass found: runs failed as WorkerLost, jobs released, leftover jobs removed."""

    failed: int
    released: int
    removed: int


def background_job_reap_expired(*, using: str, worker_id: str | None = None) -> ReapReport:
    """Jobs whose lease expired (database time), or every claim of ``worker_id``: an
    ``in_progress`` run is failed as ``WorkerLost`` (the retry rules apply) and its job deleted;
    a claimed run that never started is released for another worker; a job whose run already
    finished is deleted. Guarded by state, in one transaction."""
    connection = connections[using]
    now = database_now_sql(connection.vendor)
    if worker_id is None:
        expired = f"claimed_by IS NOT NULL AND lease_expires_at < {now}"
        params: list[str] = []
    else:
        expired = "claimed_by = %s"
        params = [worker_id]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE trax_metadata SET train_state = 'failed', end_time = {now}, "
            "failure_exception = 'WorkerLost', failure_reason = %s, "
            "currently_running_junction = '', junction_started_at = NULL "
            "WHERE train_state = 'in_progress' AND id IN ("
            f"SELECT metadata_id FROM trax_background_job WHERE {expired})",
            [WORKER_LOST_REASON, *params],
        )
        failed = cursor.rowcount
        cursor.execute(
            "UPDATE trax_background_job SET claimed_by = NULL, claim_token = NULL, "
            f"lease_expires_at = NULL WHERE {expired} AND metadata_id IN ("
            "SELECT id FROM trax_metadata WHERE train_state = 'pending')",
            params,
        )
        released = cursor.rowcount
        cursor.execute(f"DELETE FROM trax_background_job WHERE {expired}", params)
        removed = cursor.rowcount
        if failed or released or removed:
            notify(CAPACITY_FREED, using=using)
    return ReapReport(failed=failed, released=released, removed=max(removed - failed, 0))
