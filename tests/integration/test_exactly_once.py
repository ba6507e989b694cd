"""N one-off jobs through a dispatcher process and several worker processes: each is
started once and completed once, none lost (issue 4: "no duplicates, no losses")."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import trax
from tests.integration.conftest import (
    Children,
    ledger,
    wait_for,
    wait_until_leading,
    wait_until_worker_ready,
    work,
)
from trax.models import BackgroundJob, Metadata, TrainState, WorkQueue, WorkQueueStatus

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

N = 300
#: Correctness, not crash recovery, is under test here: a lease long enough that a busy
#: two-core machine never lets a live worker's claim lapse.
SETTINGS = {"LEASE_SECONDS": 10, "HEARTBEAT_INTERVAL_SECONDS": 0.5}


@pytest.mark.usefixtures("quiet_demo_schedules")
def test_every_job_runs_exactly_once_across_three_workers(
    children: Children, work_dir: Path
) -> None:
    scheduler = children.dispatcher(settings=SETTINGS)
    workers = [
        children.worker("--concurrency", "4", settings=SETTINGS, name=f"worker-{n}")
        for n in range(3)
    ]
    for worker in workers:
        wait_until_worker_ready(worker)
    wait_until_leading(scheduler)

    ids = trax.enqueue_many("it.record", [work(work_dir, f"job-{n}") for n in range(N)])

    runs = Metadata.objects.filter(name="it.record")
    wait_for(
        lambda: runs.filter(train_state=TrainState.COMPLETED).count() >= N,
        f"{N} completed runs",
        limit=60,
    )
    wait_for(lambda: not BackgroundJob.objects.exists(), "the last job rows to go", limit=5)

    # Metadata: one run per entry, every one completed, linked to its entry.
    assert runs.count() == N
    assert not runs.exclude(train_state=TrainState.COMPLETED).exists()
    entries = WorkQueue.objects.filter(external_id__in=ids)
    assert entries.count() == N
    assert set(entries.values_list("status", flat=True)) == {WorkQueueStatus.DISPATCHED}
    per_entry = Counter(runs.values_list("work_queue_id", flat=True))
    assert set(per_entry) == set(entries.values_list("id", flat=True))
    assert set(per_entry.values()) == {1}
    assert not WorkQueue.objects.exclude(external_id__in=ids).exclude(manifest__isnull=False)

    # Side effects: each job started exactly once, in a worker process, as its recorded run.
    starts = ledger(work_dir)
    assert len(starts) == N
    assert Counter(s.key for s in starts) == {f"job-{n}": 1 for n in range(N)}
    assert {s.run_id for s in starts} == set(runs.values_list("id", flat=True))
    worker_pids = {w.pid for w in workers}
    assert {s.pid for s in starts} <= worker_pids
    assert len({s.pid for s in starts}) >= 2, "the work was not shared between workers"
    outputs = dict(runs.values_list("id", "output"))
    assert all(outputs[s.run_id] == {"key": s.key, "pid": s.pid} for s in starts)

    assert all(child.alive() for child in [scheduler, *workers])
