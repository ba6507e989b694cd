"""The reaper's writes: jobs whose lease expired belong to a worker that is gone."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections, transaction

from trax.events.channels import CAPACITY_FREED
from trax.events.notify import notify
from trax.models import FailureKind
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
    finished is deleted.

    The expired jobs are chosen once and locked (in id order, skipping rows a completion is
    writing), so a heartbeat cannot revive a claim halfway through and no statement here sees a
    different set than the others."""
    connection = connections[using]
    vendor = connection.vendor
    now = database_now_sql(vendor)
    if worker_id is None:
        expired = f"claimed_by IS NOT NULL AND lease_expires_at < {now}"
        params: list[str] = []
    else:
        expired = "claimed_by = %s"
        params = [worker_id]
    lock = " FOR UPDATE SKIP LOCKED" if vendor == "postgresql" else ""
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, metadata_id FROM trax_background_job WHERE {expired} ORDER BY id{lock}",
            params,
        )
        jobs = cursor.fetchall()
        if not jobs:
            return ReapReport(0, 0, 0)
        job_ids = [job_id for job_id, _ in jobs]
        run_ids = [metadata_id for _, metadata_id in jobs]
        runs_in = ", ".join(["%s"] * len(run_ids))
        jobs_in = ", ".join(["%s"] * len(job_ids))
        cursor.execute(
            f"UPDATE trax_metadata SET train_state = 'failed', end_time = {now}, "
            "failure_exception = %s, failure_reason = %s, "
            "currently_running_junction = '', junction_started_at = NULL "
            f"WHERE train_state = 'in_progress' AND id IN ({runs_in})",
            [FailureKind.WORKER_LOST.value, WORKER_LOST_REASON, *run_ids],
        )
        failed = cursor.rowcount
        cursor.execute(
            "UPDATE trax_background_job SET claimed_by = NULL, claim_token = NULL, "
            f"lease_expires_at = NULL WHERE id IN ({jobs_in}) AND metadata_id IN ("
            "SELECT id FROM trax_metadata WHERE train_state = 'pending')",
            job_ids,
        )
        released = cursor.rowcount
        cursor.execute(
            f"DELETE FROM trax_background_job WHERE id IN ({jobs_in}) AND claimed_by IS NOT NULL",
            job_ids,
        )
        removed = cursor.rowcount
        notify(CAPACITY_FREED, using=using)
    return ReapReport(failed=failed, released=released, removed=max(removed - failed, 0))
