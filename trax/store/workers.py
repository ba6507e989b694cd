"""Writers of process rows (``trax_worker``) and of the leases their heartbeats renew."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import datetime

from django.db import connections, transaction
from django.db.models.functions import Now

from trax.events.notify import notify_changed
from trax.models import Worker
from trax.store.clock import database_later_sql, database_now_sql, seconds_parameter


def worker_register(
    *, worker_id: str, host: str, pid: int, kind: str, concurrency: int, using: str
) -> None:
    """Create or take over this process's row (a restarted ``--name`` keeps its id)."""
    Worker.objects.using(using).update_or_create(
        worker_id=worker_id,
        defaults={
            "host": host,
            "pid": pid,
            "kind": kind,
            "concurrency": concurrency,
            "started_at": Now(),
            "last_heartbeat_at": Now(),
            "runs_in_flight": 0,
        },
    )
    notify_changed("processes", using=using)


def worker_heartbeat(
    *,
    worker_id: str,
    in_flight: Sequence[int],
    lease_seconds: float,
    using: str,
    kind: str = "worker",
    concurrency: int = 0,
) -> set[int]:
    """Stamp the process row and renew the leases of its in-flight runs' claims that are still
    live, in one transaction, locking them in id order (as completions and the reaper do, so
    they never deadlock). An expired claim is not revived: the reaper owns it. Returns the run
    ids whose claims were renewed; an in-flight run missing from it has lost its claim."""
    connection = connections[using]
    lease = seconds_parameter(connection.vendor, lease_seconds)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE trax_worker SET last_heartbeat_at = {database_now_sql(connection.vendor)}, "
            "runs_in_flight = %s WHERE worker_id = %s",
            [len(in_flight), worker_id],
        )
        if cursor.rowcount == 0:  # pruned while we could not beat (an outage): show up again
            worker_register(
                worker_id=worker_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                kind=kind,
                concurrency=concurrency,
                using=using,
            )
        if not in_flight:
            return set()
        now = database_now_sql(connection.vendor)
        lock = " ORDER BY id FOR UPDATE" if connection.vendor == "postgresql" else ""
        runs_in = ", ".join(["%s"] * len(in_flight))
        later = database_later_sql(connection.vendor)
        cursor.execute(
            f"UPDATE trax_background_job SET lease_expires_at = {later} "
            "WHERE id IN (SELECT id FROM trax_background_job WHERE claimed_by = %s "
            f"AND metadata_id IN ({runs_in}) AND lease_expires_at >= {now}{lock}) "
            "RETURNING metadata_id",
            [lease, worker_id, *in_flight],
        )
        return {row[0] for row in cursor.fetchall()}


def worker_unregister(worker_id: str, *, using: str) -> None:
    """Remove this process's row on a clean exit."""
    Worker.objects.using(using).filter(worker_id=worker_id).delete()
    notify_changed("processes", using=using)


def worker_prune_stale(before: datetime, *, using: str) -> int:
    """Delete rows of processes whose last heartbeat is older than ``before``."""
    pruned = Worker.objects.using(using).filter(last_heartbeat_at__lt=before).delete()[0]
    if pruned:
        notify_changed("processes", using=using)
    return pruned
