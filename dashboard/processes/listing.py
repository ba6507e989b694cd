"""What the Processes page shows: every registered process (scheduler, worker, web) with its
heartbeat's age, concurrency and runs in flight, stale when silent longer than the lease; and
the leader leases, whose holder runs each cluster-wide duty."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from trax.models import Leader, Worker


@dataclass(frozen=True)
class ProcessRow:
    """A process as its heartbeat last told."""

    row: Worker
    heartbeat_age: float
    stale: bool
    leads: tuple[str, ...]
    """The duties whose unexpired lease it holds."""


@dataclass(frozen=True)
class Lease:
    """A leader lease: who holds it, until when, whether it ran out, and whether the holder
    is a registered process."""

    row: Leader
    expired: bool
    holder_known: bool


@dataclass(frozen=True)
class Processes:
    """The page at ``now``."""

    now: datetime
    processes: list[ProcessRow]
    leases: list[Lease]
    stale_after: float

    @property
    def stale_count(self) -> int:
        return sum(1 for process in self.processes if process.stale)

    @property
    def in_flight(self) -> int:
        return sum(process.row.runs_in_flight for process in self.processes if not process.stale)

    @property
    def capacity(self) -> int:
        return sum(process.row.concurrency for process in self.processes if not process.stale)


def processes_now(now: datetime, *, using: str, stale_after: float) -> Processes:
    """Every process (by kind, host, id) and every lease at ``now``; a process silent for
    ``stale_after`` seconds is stale."""
    leases = list(Leader.objects.using(using).order_by("name"))
    workers = list(Worker.objects.using(using).order_by("kind", "host", "worker_id"))
    ids = {worker.worker_id for worker in workers}
    held: dict[str, list[str]] = {}
    for lease in leases:
        if lease.expires_at > now:
            held.setdefault(lease.holder, []).append(lease.name)
    rows = []
    for worker in workers:
        age = max((now - worker.last_heartbeat_at).total_seconds(), 0.0)
        rows.append(
            ProcessRow(
                row=worker,
                heartbeat_age=age,
                stale=age > stale_after,
                leads=tuple(held.get(worker.worker_id, ())),
            )
        )
    return Processes(
        now=now,
        processes=rows,
        leases=[
            Lease(row=lease, expired=lease.expires_at <= now, holder_known=lease.holder in ids)
            for lease in leases
        ],
        stale_after=stale_after,
    )
