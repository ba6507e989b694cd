"""The batch completer: run threads hand in their outcomes and wait; one thread writes them in
batches, each caller learning whether its own completion landed; database errors are retried."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError

from tests.trax.dispatch.factories import claim, enqueue_jobs, wait_until
from trax.models import BackgroundJob, Metadata, TrainState
from trax.store import RunOutcome
from trax.store.background_jobs.claim import ClaimedRun
from trax.store.background_jobs.completion import Completion
from trax.workers import completer as completer_module
from trax.workers.completer import BatchCompleter

pytestmark = pytest.mark.django_db(transaction=True)

DONE = RunOutcome(state=TrainState.COMPLETED, output={"greeting": "x", "signed_by": "y"})
REAL = completer_module.background_job_complete


@pytest.fixture
def completer() -> Iterator[BatchCompleter]:
    c = BatchCompleter(using="default", batch_size=500, give_up_after=10.0)
    c.start()
    yield c
    if c._thread.is_alive():
        c.stop()


def completion_of(run: ClaimedRun, *, token: uuid.UUID | None = None) -> Completion:
    return Completion(
        metadata_id=run.metadata_id,
        claim_token=token or run.claim_token,
        outcome=DONE,
        manifest_id=run.manifest_id,
    )


def complete_from_threads(
    completer: BatchCompleter, completions: list[Completion]
) -> dict[int, bool]:
    """Each completion from its own thread, all at once; returns what each caller was told."""
    results: dict[int, bool] = {}
    barrier = threading.Barrier(len(completions))

    def one(c: Completion) -> None:
        barrier.wait(10)
        results[c.metadata_id] = completer.complete(c)

    threads = [threading.Thread(target=one, args=(c,)) for c in completions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads), "a caller was never answered"
    return results


def test_many_threads_completing_at_once_share_transactions(
    monkeypatch: pytest.MonkeyPatch, completer: BatchCompleter
) -> None:
    runs = claim_runs(8)
    calls: list[int] = []

    def counting(completions: Any, *, using: str) -> set[int]:
        calls.append(len(completions))
        if len(calls) == 1:
            # Hold the first write until every other caller has queued its completion.
            wait_until(
                lambda: completer._queue.qsize() >= len(runs) - len(completions),
                timeout=10,
                what="the other completions to queue up",
            )
        return REAL(completions, using=using)

    monkeypatch.setattr(completer_module, "background_job_complete", counting)
    lost = runs[3]
    completions = [completion_of(r, token=uuid.uuid4() if r is lost else None) for r in runs]

    told = complete_from_threads(completer, completions)

    assert sum(calls) == len(runs)
    assert len(calls) <= 2  # one or two transactions for eight completions
    assert told == {r.metadata_id: r is not lost for r in runs}
    states = dict(Metadata.objects.values_list("id", "train_state"))
    assert states[lost.metadata_id] == TrainState.IN_PROGRESS
    assert all(states[r.metadata_id] == TrainState.COMPLETED for r in runs if r is not lost)
    assert list(BackgroundJob.objects.values_list("metadata_id", flat=True)) == [lost.metadata_id]


def test_a_batch_is_retried_after_a_database_error_and_then_lands(
    monkeypatch: pytest.MonkeyPatch, completer: BatchCompleter
) -> None:
    (run,) = claim_runs(1)
    calls: list[int] = []

    def flaky(completions: Any, *, using: str) -> set[int]:
        calls.append(len(completions))
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly (simulated)")
        return REAL(completions, using=using)

    monkeypatch.setattr(completer_module, "background_job_complete", flaky)

    assert completer.complete(completion_of(run)) is True

    assert calls == [1, 1]
    assert Metadata.objects.get(id=run.metadata_id).train_state == TrainState.COMPLETED


def test_the_completer_gives_up_after_its_limit_and_tells_the_callers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (run,) = claim_runs(1)

    def down(completions: Any, *, using: str) -> set[int]:
        raise OperationalError("database is down (simulated)")

    monkeypatch.setattr(completer_module, "background_job_complete", down)
    c = BatchCompleter(using="default", give_up_after=0.25)
    c.start()
    try:
        assert c.complete(completion_of(run)) is False
    finally:
        c.stop()
    # The run is left for the reaper: its lease will expire.
    assert Metadata.objects.get(id=run.metadata_id).train_state == TrainState.IN_PROGRESS
    assert BackgroundJob.objects.filter(metadata_id=run.metadata_id).exists()


def test_a_lost_claim_is_reported_to_its_caller(completer: BatchCompleter) -> None:
    (run,) = claim_runs(1)
    assert completer.complete(completion_of(run, token=uuid.uuid4())) is False
    assert Metadata.objects.get(id=run.metadata_id).train_state == TrainState.IN_PROGRESS


def test_stop_writes_what_is_queued_and_ends_the_thread() -> None:
    runs = claim_runs(3)
    c = BatchCompleter(using="default")
    c.start()
    told = complete_from_threads(c, [completion_of(r) for r in runs])
    c.stop()
    assert not c._thread.is_alive()
    assert set(told.values()) == {True}
    assert not BackgroundJob.objects.exists()


def claim_runs(n: int) -> list[ClaimedRun]:
    enqueue_jobs(n)
    got = claim(limit=n)
    assert len(got) == n
    return got
