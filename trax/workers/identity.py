"""Worker ids, and the recovery of a named worker's previous life."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from trax.core import TraxError
from trax.models import Worker
from trax.store import ReapReport, background_job_reap_expired, database_now


class WorkerNameInUse(TraxError, RuntimeError):
    """Another live process holds this worker name."""


def worker_id_for(name: str | None = None) -> str:
    """``host/name``; the default name (pid and a random suffix) is unique per live process.
    Only an explicit name is stable across restarts."""
    host = socket.gethostname()
    return f"{host}/{name or f'{os.getpid()}-{uuid.uuid4().hex[:6]}'}"


def recover_named_worker(worker_id: str, *, lease_seconds: float, using: str) -> ReapReport:
    """Before a named worker starts: refuse if the earlier holder of the name still beats
    (heartbeat newer than one lease), else take back its previous life's runs at once
    (in-progress ones fail as WorkerLost and are retried; unstarted ones are released)."""
    row = Worker.objects.using(using).filter(worker_id=worker_id).first()
    if row is not None:
        fresh_since = database_now(using) - timedelta(seconds=lease_seconds)
        if row.last_heartbeat_at > fresh_since:
            raise WorkerNameInUse(
                f"worker {worker_id!r} is alive (pid {row.pid} on {row.host}, last heartbeat "
                f"{row.last_heartbeat_at:%H:%M:%S}); stop it or choose another --name"
            )
    return background_job_reap_expired(using=using, worker_id=worker_id)
