"""The fault soak of issue 8 ("Done means"): a few thousand short jobs through two schedulers
and three workers while workers are SIGKILLed mid-run, the leading scheduler is SIGKILLed and
PostgreSQL restarts. Afterwards: no job lost, none completed twice, nothing stuck, and every
process stopped normally exits 0 and removes its ``trax_worker`` row (and its leader lease).

The faults are paced by progress read from the database (a share of the jobs completed), not by
the clock, so a slow machine only makes the test longer, never vacuous.
"""

from __future__ import annotations

import signal
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

import trax
from tests.integration.conftest import (
    START_LIMIT,
    Child,
    Children,
    ledger,
    wait_for,
    wait_until_worker_ready,
    work,
)
from tests.integration.test_database_restart import restart_postgresql
from trax.manager.service import MANAGER_LEASE
from trax.models import (
    ACTIVE_STATES,
    BackgroundJob,
    DeadLetter,
    Leader,
    Metadata,
    TrainState,
    Worker,
    WorkQueue,
    WorkQueueStatus,
)

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

N = 2400
TRAIN = "it.sleepy"
#: Each job sleeps this long: twelve run threads take about N * SECONDS / 12 s, time for the
#: faults to land while jobs run.
SECONDS = 0.08
CONCURRENCY = "4"
#: Short leases, so a killed worker's runs and a killed leader's duties are taken back within
#: seconds; retries enough for a lineage hit by every fault.
SETTINGS = {"LEASE_SECONDS": 3, "HEARTBEAT_INTERVAL_SECONDS": 0.3, "LEADER_LEASE_SECONDS": 3}
MAX_RETRIES = 5
#: The bound on the whole run, far above its usual length, so a stuck job fails the test.
DRAIN_LIMIT = 120.0


def completed() -> int:
    return Metadata.objects.filter(name=TRAIN, train_state=TrainState.COMPLETED).count()


def when_completed(share: float) -> None:
    wait_for(
        lambda: completed() >= N * share,
        f"{share:.0%} of the jobs to complete",
        limit=DRAIN_LIMIT,
        every=0.05,
    )


def runs_in_flight(child: Child) -> list[int]:
    """The runs ``child`` holds claims on that have started."""
    worker_ids = Worker.objects.filter(pid=child.pid).values_list("worker_id", flat=True)
    return list(
        BackgroundJob.objects.filter(
            claimed_by__in=list(worker_ids), metadata__train_state=TrainState.IN_PROGRESS
        ).values_list("metadata_id", flat=True)
    )


def kill_mid_run(child: Child) -> None:
    """SIGKILL ``child`` while it has runs in flight."""
    wait_for(lambda: runs_in_flight(child), f"{child.name} to be running jobs", every=0.01)
    child.kill()
    assert child.popen.returncode == -signal.SIGKILL


def leader_of(schedulers: list[Child]) -> Child | None:
    holder = Leader.objects.filter(name=MANAGER_LEASE).values_list("holder", flat=True).first()
    return next((s for s in schedulers if holder and f":{s.pid}:" in holder), None)


def settled() -> bool:
    """Every job completed once and nothing is left to do: no job row, no queued entry, no
    active run (a failed run's retry is queued by the leader's next cycle, hence the count)."""
    return (
        completed() >= N
        and not BackgroundJob.objects.exists()
        and not WorkQueue.objects.filter(status=WorkQueueStatus.QUEUED).exists()
        and not Metadata.objects.filter(train_state__in=ACTIVE_STATES).exists()
    )


@pytest.mark.usefixtures("quiet_demo_schedules")
def test_no_job_is_lost_doubled_or_stuck_through_kills_and_a_database_restart(
    children: Children, work_dir: Path
) -> None:
    began = time.monotonic()
    schedulers = [children.dispatcher(settings=SETTINGS, name=f"scheduler-{n}") for n in range(2)]
    workers = [
        children.worker("--concurrency", CONCURRENCY, settings=SETTINGS, name=f"worker-{n}")
        for n in range(3)
    ]
    for worker in workers:
        wait_until_worker_ready(worker)
    leader = wait_for(lambda: leader_of(schedulers), "a scheduler to lead", limit=START_LIMIT)
    (follower,) = [s for s in schedulers if s is not leader]

    keys = [f"job-{n}" for n in range(N)]
    ids = trax.enqueue_many(
        TRAIN, [work(work_dir, key, seconds=SECONDS) for key in keys], max_retries=MAX_RETRIES
    )

    # A worker dies mid-run, then the leader: the follower's reaper must take the dead
    # worker's runs back and its retry rules queue them again.
    when_completed(0.10)
    kill_mid_run(workers[0])
    workers.append(children.worker("--concurrency", CONCURRENCY, settings=SETTINGS))
    leader.kill()
    assert leader.popen.returncode == -signal.SIGKILL
    wait_for(lambda: leader_of(schedulers) is follower, "the follower to take over", limit=30)
    wait_until_worker_ready(workers[-1])
    through_the_restart = [follower, *(w for w in workers if w.alive())]

    when_completed(0.35)
    restart_postgresql()

    when_completed(0.60)
    kill_mid_run(workers[1])
    workers.append(children.worker("--concurrency", CONCURRENCY, settings=SETTINGS))

    wait_for(settled, "every job to complete and nothing to be left", limit=DRAIN_LIMIT)
    drained = time.monotonic() - began

    # No loss, no double completion: one completed run per enqueued lineage (retries and
    # requeues point at their first entry).
    entries = list(WorkQueue.objects.filter(train_name=TRAIN).values("id", "origin_id"))
    first_of = {e["id"]: e["origin_id"] or e["id"] for e in entries}
    first_entries = WorkQueue.objects.filter(id__in=set(first_of.values()))
    assert set(first_entries.values_list("external_id", flat=True)) == set(ids)
    lineage_of_id = dict(first_entries.values_list("id", "external_id"))
    runs = list(
        Metadata.objects.filter(name=TRAIN).values(
            "id", "work_queue_id", "train_state", "input", "output", "failure_exception"
        )
    )
    lineage = {r["id"]: lineage_of_id[first_of[r["work_queue_id"]]] for r in runs}
    done = [r for r in runs if r["train_state"] == TrainState.COMPLETED]
    assert Counter(lineage[r["id"]] for r in done) == Counter(ids)
    assert {r["input"]["key"] for r in done} == set(keys)
    unfinished = Counter(
        (r["train_state"], r["failure_exception"])
        for r in runs
        if r["train_state"] != TrainState.COMPLETED
    )
    assert set(unfinished) <= {(TrainState.FAILED, "WorkerLost")}, unfinished
    assert unfinished, "no run was in flight when its worker was killed"
    assert not DeadLetter.objects.exists()

    # Side effects: each run started at most once; each job's completed run is one of its
    # starts, in the process that completed it; a job started again only as a new run.
    starts = ledger(work_dir)
    assert max(Counter(s.run_id for s in starts).values()) == 1
    by_id = {r["id"]: r for r in runs}
    assert all(by_id[s.run_id]["input"]["key"] == s.key for s in starts)
    started = {s.run_id: s for s in starts}
    for run in done:
        start = started[run["id"]]
        assert run["output"] == {"key": start.key, "pid": start.pid}
    per_key = Counter(s.key for s in starts)
    assert set(per_key) == set(keys)
    runs_per_key: defaultdict[str, int] = defaultdict(int)
    for run in runs:
        runs_per_key[run["input"]["key"]] += 1
    assert all(per_key[key] <= runs_per_key[key] for key in keys)

    # Every process alive through the restart noticed it, said so and carried on.
    for child in through_the_restart:
        assert " WARNING trax." in child.output(), f"{child.name} did not see the restart"

    # Every process still alive stops cleanly: exit 0, its row and the lease gone.
    survivors = [follower, *(w for w in workers if w.alive())]
    assert len(survivors) == 4, [(c.name, c.popen.returncode) for c in children.started]
    for child in survivors:
        child.send(signal.SIGTERM)
    exits = {child.name: child.wait_exit(30) for child in survivors}
    assert exits == {child.name: 0 for child in survivors}
    pids = [child.pid for child in survivors]
    assert list(Worker.objects.filter(pid__in=pids).values_list("worker_id", flat=True)) == []
    assert not Leader.objects.exists()
    print(
        f"\nfault soak: {N} jobs drained in {drained:.1f} s, {len(starts)} starts, "
        f"{sum(unfinished.values())} runs lost with a worker and retried"
    )
