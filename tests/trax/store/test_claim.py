"""Claiming background jobs: one statement, never more than ``limit``, priority order, a lease
in database time and a claim token, the runs started in the same statement; two claimers never
get the same job."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
from django.db import connections

import trax
from tests.trax.dispatch.factories import (
    EXECUTOR,
    GREET,
    HOST,
    PERSON,
    claim,
    dispatch_all,
    enqueue_jobs,
    seconds,
    wait_until,
)
from trax.models import BackgroundJob, CancelReason, Metadata, TrainState
from trax.store import database_now


@pytest.mark.django_db
def test_a_claim_never_takes_more_than_its_limit() -> None:
    enqueue_jobs(30)

    got = claim(limit=7)

    assert len(got) == 7
    assert BackgroundJob.objects.filter(claimed_by="w-1").count() == 7
    assert Metadata.objects.filter(train_state=TrainState.IN_PROGRESS).count() == 7
    assert BackgroundJob.objects.filter(claimed_by=None).count() == 23


@pytest.mark.django_db
def test_a_claim_takes_what_there_is_and_nothing_when_empty() -> None:
    enqueue_jobs(2)
    assert len(claim(limit=10)) == 2
    assert claim(limit=10) == []
    assert claim(limit=0) == []


@pytest.mark.django_db
def test_jobs_are_claimed_by_priority_then_id() -> None:
    low = enqueue_jobs(2, priority=1)
    high = enqueue_jobs(2, priority=20)
    mid = enqueue_jobs(1, priority=5)

    order = [claim(limit=1)[0].metadata_id for _ in range(5)]

    assert order == [high[0].pk, high[1].pk, mid[0].pk, low[0].pk, low[1].pk]


@pytest.mark.django_db
def test_a_claim_sets_claimer_token_and_a_lease_in_database_time() -> None:
    (run,) = enqueue_jobs(1)
    before = database_now()

    (claimed,) = claim("worker-a", lease=30.0)

    after = database_now()
    job = BackgroundJob.objects.get(metadata=run)
    assert job.claimed_by == "worker-a"
    assert job.claim_token == claimed.claim_token
    assert isinstance(claimed.claim_token, uuid.UUID)
    assert job.lease_expires_at is not None
    tolerance = seconds(0.01)  # SQLite keeps milliseconds
    assert (
        before + seconds(30) - tolerance <= job.lease_expires_at <= after + seconds(30) + tolerance
    )


@pytest.mark.django_db
def test_each_claim_gets_its_own_token() -> None:
    enqueue_jobs(4)
    first = claim(limit=2)
    second = claim(limit=2)
    assert len({c.claim_token for c in first}) == 1
    assert {c.claim_token for c in first}.isdisjoint({c.claim_token for c in second})


@pytest.mark.django_db
def test_the_claim_starts_the_runs_with_host_and_executor() -> None:
    (run,) = enqueue_jobs(1, priority=3)

    (claimed,) = claim()

    run.refresh_from_db()
    assert run.train_state == TrainState.IN_PROGRESS
    assert run.start_time is not None
    assert run.executor == EXECUTOR
    assert (run.host_name, run.host_environment, run.host_instance_id) == (
        HOST.name,
        HOST.environment,
        HOST.instance_id,
    )
    assert run.host_labels == HOST.labels
    assert claimed.metadata_id == run.pk
    assert claimed.job_id == BackgroundJob.objects.get(metadata=run).pk
    assert (claimed.name, claimed.input, claimed.external_id) == (GREET, PERSON, run.external_id)
    assert (claimed.manifest_id, claimed.parent_id, claimed.attempt) == (None, None, 1)
    assert claimed.work_queue_id == run.work_queue_id


@pytest.mark.django_db
def test_a_claimed_manifest_run_carries_its_manifest() -> None:
    m = trax.scheduler.schedule("claimed-m", GREET, PERSON, trax.Every.minutes(5))
    trax.scheduler.trigger("claimed-m")
    dispatch_all()
    (claimed,) = claim()
    assert claimed.manifest_id == m.pk


@pytest.mark.django_db
def test_a_job_whose_run_was_cancelled_while_pending_is_deleted_not_returned() -> None:
    cancelled, live = enqueue_jobs(2)
    assert trax.cancel_run(cancelled.pk) == 1
    cancelled.refresh_from_db()
    assert cancelled.train_state == TrainState.CANCELLED

    got = claim(limit=5)

    assert [c.metadata_id for c in got] == [live.pk]
    assert not BackgroundJob.objects.filter(metadata=cancelled).exists()
    cancelled.refresh_from_db()
    assert cancelled.train_state == TrainState.CANCELLED
    assert cancelled.start_time is None
    assert cancelled.cancel_reason == CancelReason.OPERATOR


@pytest.mark.django_db
def test_claimers_taking_turns_never_share_a_job() -> None:
    runs = enqueue_jobs(40)
    taken: dict[str, list[int]] = {"a": [], "b": []}
    while True:
        a = claim("a", limit=3)
        b = claim("b", limit=5)
        taken["a"] += [c.job_id for c in a]
        taken["b"] += [c.job_id for c in b]
        if not a and not b:
            break
    assert set(taken["a"]).isdisjoint(taken["b"])
    all_jobs = taken["a"] + taken["b"]
    assert len(all_jobs) == len(set(all_jobs)) == len(runs)
    assert Counter(BackgroundJob.objects.values_list("claimed_by", flat=True)) == {
        "a": len(taken["a"]),
        "b": len(taken["b"]),
    }


def claim_concurrently(workers: int, limits: list[int]) -> dict[str, list[list[int]]]:
    """``workers`` threads, each with its own connections, claim until no free job is left;
    returns each worker's batches of job ids."""
    barrier = threading.Barrier(workers)
    batches: dict[str, list[list[int]]] = {f"w{i}": [] for i in range(workers)}
    errors: list[BaseException] = []

    def work(name: str, limit: int) -> None:
        try:
            barrier.wait(10)
            while True:
                got = claim(name, limit=limit)
                if got:
                    batches[name].append([c.job_id for c in got])
                    assert len(got) <= limit
                elif not BackgroundJob.objects.filter(claimed_by=None).exists():
                    return
        except BaseException as error:  # reported by the caller
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=work, args=(name, limits[i % len(limits)]))
        for i, name in enumerate(batches)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a claimer did not finish"
    assert not errors, errors
    return batches


@pytest.mark.parametrize("workers", [2, 4])
@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_get_disjoint_jobs_that_cover_everything(workers: int) -> None:
    """Threads with their own connections claim at once (SKIP LOCKED on PostgreSQL; SQLite
    serialises the writers with IMMEDIATE transactions): never a job twice, none left out,
    never more than the limit per claim."""
    limits = [5, 7]
    runs = enqueue_jobs(200)

    batches = claim_concurrently(workers, limits)

    for name, got in batches.items():
        for batch in got:
            assert len(batch) <= max(limits), (name, batch)
    per_worker = {name: {job for batch in got for job in batch} for name, got in batches.items()}
    names = list(per_worker)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert per_worker[a].isdisjoint(per_worker[b]), (a, b)
    every = [job for got in batches.values() for batch in got for job in batch]
    assert len(every) == len(set(every)) == 200
    assert set(every) == set(BackgroundJob.objects.values_list("id", flat=True))
    claimed_by = dict(BackgroundJob.objects.values_list("id", "claimed_by"))
    for name, jobs in per_worker.items():
        assert {claimed_by[j] for j in jobs} <= {name}
    assert (
        Metadata.objects.filter(
            id__in=[r.pk for r in runs], train_state=TrainState.IN_PROGRESS
        ).count()
        == 200
    )


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_skip_locked_a_claimer_skips_jobs_locked_by_another_transaction() -> None:
    """While one transaction holds rows locked, another claimer skips them instead of waiting
    or taking them."""
    runs = enqueue_jobs(6)
    held: list[int] = []
    locked = threading.Event()
    release = threading.Event()

    def hold_two() -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                held.extend(
                    BackgroundJob.objects.select_for_update()
                    .order_by("-priority", "id")
                    .values_list("id", flat=True)[:2]
                )
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_two)
    holder.start()
    try:
        assert locked.wait(10)
        got = claim("other", limit=10)
    finally:
        release.set()
        holder.join(10)

    assert len(held) == 2
    assert sorted(c.job_id for c in got) == sorted(
        set(BackgroundJob.objects.values_list("id", flat=True)) - set(held)
    )
    assert len(got) == 4
    wait_until(lambda: not holder.is_alive(), what="the holder to finish")
    # The skipped jobs are still free for the next claim.
    assert sorted(c.job_id for c in claim("other", limit=10)) == sorted(held)
    assert len(runs) == 6
