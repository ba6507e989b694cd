"""Step: take back the claims of workers that stopped renewing their leases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from trax.manager.context import Cycle
from trax.store import background_job_reap_expired, worker_prune_stale


@dataclass(frozen=True)
class ReapedLeases:
    worker_lost: int
    released: int
    stale_workers: int


def reap_expired_leases(cycle: Cycle) -> ReapedLeases:
    """A run whose worker's lease expired fails as ``WorkerLost`` (then the retry rules apply);
    a claimed run that never started goes back to the queue. Rows of processes silent for
    three leases are pruned."""
    report = background_job_reap_expired(using=cycle.using)
    stale = worker_prune_stale(
        cycle.now - timedelta(seconds=3 * cycle.config.lease_seconds), using=cycle.using
    )
    return ReapedLeases(worker_lost=report.failed, released=report.released, stale_workers=stale)
