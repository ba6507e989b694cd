"""The worker's helper threads, one step at a time: the heartbeat renews the process row and the
leases of its claims; the cancel watcher fires the local tokens of flagged runs; a named worker
recovers its previous life's runs, or refuses to start while that life still beats."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from django.db import connection

from tests.trax.dispatch.factories import claim, enqueue_jobs, seconds, wait_until
from trax.core import CancellationToken
from trax.effects import local_tokens
from trax.models import BackgroundJob, CancelReason, Metadata, TrainState, Worker, WorkerKind
from trax.store import database_now, metadata_request_cancel
from trax.store.background_jobs.reaper import ReapReport
from trax.store.workers import worker_register
from trax.workers.cancel_watcher import CancelWatcher
from trax.workers.heartbeat import Heartbeat
from trax.workers.identity import WorkerNameInUse, recover_named_worker, worker_id_for
from trax.workers.pool import WorkerConfig


def claimed_runs(worker: str) -> list[int]:
    """The runs ``worker`` holds claims on (what its pool would have in flight)."""
    return list(
        BackgroundJob.objects.filter(claimed_by=worker).values_list("metadata_id", flat=True)
    )


def heartbeat(
    worker: str, *, lease: float = 60.0, in_flight: list[int] | None = None, on_lost: Any = None
) -> Heartbeat:
    return Heartbeat(
        worker_id=worker,
        interval=1.0,
        lease_seconds=lease,
        in_flight=lambda: claimed_runs(worker) if in_flight is None else in_flight,
        using="default",
        stopping=threading.Event(),
        on_lost=on_lost,
    )


def lease() -> datetime:
    """The lease of the only job."""
    expires = BackgroundJob.objects.get().lease_expires_at
    assert expires is not None
    return expires


def register(worker: str) -> None:
    worker_register(
        worker_id=worker, host="h", pid=1, kind=WorkerKind.WORKER, concurrency=2, using="default"
    )


# ── heartbeat ───────────────────────────────────────────────────────────────────────────────


@pytest.mark.django_db
def test_a_beat_renews_the_leases_of_its_claims_only() -> None:
    enqueue_jobs(3)
    claim("mine", limit=2, lease=5.0)
    claim("theirs", limit=1, lease=5.0)
    register("mine")
    before = dict(BackgroundJob.objects.values_list("id", "lease_expires_at"))
    now = database_now()

    renewed = heartbeat("mine", lease=60.0).beat()

    assert len(renewed) == 2
    for job in BackgroundJob.objects.all():
        expires, was = job.lease_expires_at, before[job.pk]
        assert expires is not None and was is not None
        if job.claimed_by == "mine":
            assert expires > was + seconds(50)
            assert expires >= now + seconds(60) - seconds(0.01)
        else:
            assert expires == was


@pytest.mark.django_db
def test_a_beat_does_not_revive_an_expired_claim() -> None:
    """Once a lease has expired the claim belongs to the reaper, even if the worker beats."""
    live, expired = enqueue_jobs(2)
    claim("late", limit=2, lease=30.0)
    BackgroundJob.objects.filter(metadata=expired).update(
        lease_expires_at=database_now() - seconds(1)
    )
    was = BackgroundJob.objects.get(metadata=expired).lease_expires_at

    assert heartbeat("late").beat() == {live.pk}

    assert BackgroundJob.objects.get(metadata=expired).lease_expires_at == was
    from trax.store.background_jobs.reaper import background_job_reap_expired

    assert background_job_reap_expired(using="default").failed == 1
    expired.refresh_from_db()
    live.refresh_from_db()
    assert (expired.train_state, live.train_state) == (TrainState.FAILED, TrainState.IN_PROGRESS)


@pytest.mark.django_db
def test_a_beat_stamps_the_process_row() -> None:
    register("beating")
    Worker.objects.filter(worker_id="beating").update(
        last_heartbeat_at=database_now() - seconds(100)
    )
    stamped_at = database_now()

    assert heartbeat("beating", in_flight=[]).beat() == set()

    row = Worker.objects.get(worker_id="beating")
    assert row.last_heartbeat_at >= stamped_at - seconds(0.01)
    assert row.runs_in_flight == 0


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_keeps_beating_until_stopped() -> None:
    enqueue_jobs(1)
    claim("threaded", lease=10.0)
    register("threaded")
    first = lease()
    beat = Heartbeat(
        worker_id="threaded",
        interval=0.05,
        lease_seconds=30.0,
        in_flight=lambda: claimed_runs("threaded"),
        using="default",
        stopping=threading.Event(),
    )
    beat.start()
    try:
        wait_until(
            lambda: lease() > first + seconds(20),
            what="a renewed lease",
        )
        wait_until(
            lambda: Worker.objects.get(worker_id="threaded").runs_in_flight == 1,
            what="the process row",
        )
    finally:
        beat.stopping.set()
        beat.join(5)
    assert not beat._thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_between_beats_it_publishes_progress_each_second_not_each_beat() -> None:
    register("publisher")
    published = threading.Semaphore(0)
    beats: list[float] = []
    beat = Heartbeat(
        worker_id="publisher",
        interval=3600.0,  # no beat during the test
        lease_seconds=7200.0,
        in_flight=lambda: beats.append(0.0) or [],
        using="default",
        stopping=threading.Event(),
        publish=published.release,
        publish_interval=0.01,
    )
    beat.start()
    try:
        for _ in range(3):
            assert published.acquire(timeout=10), "progress was not published between beats"
    finally:
        beat.stopping.set()
        beat.join(5)
    assert beats == [], "a beat ran: only publishes were due"


@pytest.mark.django_db
def test_a_beat_after_the_row_was_pruned_makes_the_process_visible_again() -> None:
    register("host/survivor")
    Worker.objects.filter(worker_id="host/survivor").delete()  # pruned during an outage
    (run,) = enqueue_jobs(1)
    claim("host/survivor")  # back to work after the outage

    heartbeat("host/survivor").beat()

    with pytest.raises(WorkerNameInUse):
        recover_named_worker("host/survivor", lease_seconds=30, using="default")
    run.refresh_from_db()
    assert run.train_state == TrainState.IN_PROGRESS


@pytest.mark.django_db
def test_a_beat_hands_runs_whose_claims_were_reaped_to_on_lost() -> None:
    kept, reaped = enqueue_jobs(2)
    claim("stalled", limit=2, lease=30.0)
    BackgroundJob.objects.filter(metadata=reaped).delete()  # the reaper took it back
    lost: list[set[int]] = []

    renewed = heartbeat("stalled", in_flight=[kept.pk, reaped.pk], on_lost=lost.append).beat()

    assert renewed == {kept.pk}
    assert lost == [{reaped.pk}]


# ── cancel watcher ──────────────────────────────────────────────────────────────────────────


@pytest.fixture
def tokens() -> Iterator[dict[int, CancellationToken]]:
    """Local tokens registered for runs, forgotten afterwards."""
    registered: dict[int, CancellationToken] = {}
    yield registered
    for run_id in registered:
        local_tokens.unregister(run_id)


def watcher(ids: list[int], *, interval: float = 1.0) -> CancelWatcher:
    return CancelWatcher(
        in_flight=lambda: list(ids),
        check_interval=interval,
        using="default",
        stopping=threading.Event(),
    )


@pytest.mark.django_db
def test_check_flags_fires_the_tokens_of_flagged_in_flight_runs(
    tokens: dict[int, CancellationToken],
) -> None:
    runs = enqueue_jobs(3)
    claim(limit=3)
    for run in runs:
        tokens[run.pk] = CancellationToken()
        local_tokens.register(run.pk, tokens[run.pk])
    flagged, unflagged, not_watched = runs
    # Flags set by another process: only the database knows.
    Metadata.objects.filter(id__in=[flagged.pk, not_watched.pk]).update(cancellation_requested=True)

    fired = watcher([flagged.pk, unflagged.pk]).check_flags()

    assert fired == 1
    assert tokens[flagged.pk].cancelled
    assert tokens[flagged.pk].reason == CancelReason.OPERATOR
    assert not tokens[unflagged.pk].cancelled
    assert not tokens[not_watched.pk].cancelled  # not this watcher's run


@pytest.mark.django_db
def test_check_flags_with_nothing_in_flight_reads_nothing() -> None:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert watcher([]).check_flags() == 0
    assert len(queries) == 0


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_the_watcher_fires_on_a_cancel_notification_without_waiting_for_its_check(
    tokens: dict[int, CancellationToken],
) -> None:
    (run,) = enqueue_jobs(1)
    claim()
    tokens[run.pk] = CancellationToken()
    local_tokens.register(run.pk, tokens[run.pk])
    w = watcher([run.pk], interval=60.0)  # the periodic check would come far too late
    w.start()
    try:
        wait_until(lambda: listening_on("trax_cancel"), what="the watcher to LISTEN")
        metadata_request_cancel(run.pk, reason=CancelReason.OPERATOR, using="default")
        assert tokens[run.pk].wait(10), "the token was not fired"
    finally:
        w.stopping.set()
        # On PostgreSQL wake() does not interrupt the LISTEN wait: a notification does.
        from trax.events.notify import notify

        notify("trax_cancel", "", using="default")
        w.join(10)
    assert not w._thread.is_alive()


def listening_on(channel: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query = %s AND pid <> pg_backend_pid()",
            [f'LISTEN "{channel}"'],
        )
        return bool(cursor.fetchone()[0])


# ── named workers ───────────────────────────────────────────────────────────────────────────


def test_default_worker_ids_are_unique_per_process_and_explicit_names_are_stable() -> None:
    host = socket.gethostname()
    a, b = worker_id_for(), worker_id_for()
    assert a != b and a.startswith(f"{host}/") and b.startswith(f"{host}/")
    assert worker_id_for("night-shift") == worker_id_for("night-shift") == f"{host}/night-shift"


@pytest.mark.django_db
def test_a_name_whose_holder_still_beats_is_refused_and_nothing_is_recovered() -> None:
    started, unstarted = enqueue_jobs(2)
    claim("host/busy", limit=1)
    BackgroundJob.objects.filter(metadata=unstarted).update(
        claimed_by="host/busy", lease_expires_at=database_now() + seconds(30)
    )
    register("host/busy")  # heartbeat: now

    with pytest.raises(WorkerNameInUse, match="'host/busy' is alive"):
        recover_named_worker("host/busy", lease_seconds=30, using="default")

    started.refresh_from_db()
    assert started.train_state == TrainState.IN_PROGRESS
    assert set(BackgroundJob.objects.values_list("claimed_by", flat=True)) == {"host/busy"}


@pytest.mark.django_db
def test_a_stale_holder_is_recovered_at_once() -> None:
    started, unstarted, other = enqueue_jobs(3)
    claim("host/restarted", limit=1, lease=3600)  # a live lease: recovery ignores it
    BackgroundJob.objects.filter(metadata=unstarted).update(
        claimed_by="host/restarted", lease_expires_at=database_now() + seconds(3600)
    )
    claim("host/other", limit=1)
    register("host/restarted")
    Worker.objects.filter(worker_id="host/restarted").update(
        last_heartbeat_at=database_now() - seconds(31)
    )

    report = recover_named_worker("host/restarted", lease_seconds=30, using="default")

    assert report == ReapReport(failed=1, released=1, removed=0)
    started.refresh_from_db()
    unstarted.refresh_from_db()
    other.refresh_from_db()
    assert started.train_state == TrainState.FAILED
    assert started.failure_exception == "WorkerLost"
    assert unstarted.train_state == TrainState.PENDING
    assert BackgroundJob.objects.get(metadata=unstarted).claimed_by is None
    assert other.train_state == TrainState.IN_PROGRESS


@pytest.mark.django_db
def test_a_name_with_no_row_recovers_whatever_it_still_holds() -> None:
    (run,) = enqueue_jobs(1)
    claim("host/gone")

    report = recover_named_worker("host/gone", lease_seconds=30, using="default")

    assert report.failed == 1
    run.refresh_from_db()
    assert run.failure_exception == "WorkerLost"


@pytest.mark.django_db
def test_a_name_with_nothing_to_recover_is_a_no_op() -> None:
    assert recover_named_worker("host/new", lease_seconds=30, using="default") == ReapReport(
        0, 0, 0
    )


# ── configuration ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "options, message",
    [
        ({"concurrency": 0}, "concurrency must be >= 1"),
        ({"concurrency": -3}, "concurrency must be >= 1"),
        ({"lease_seconds": 9.9, "heartbeat_interval": 5}, "must be at least two heartbeats"),
        ({"shutdown_timeout": -1}, "shutdown_timeout must be >= 0"),
        ({"polling_interval": 0}, "polling_interval must be > 0"),
        ({"cancel_check_interval": -1}, "cancel_check_interval must be > 0"),
        ({"heartbeat_interval": 0, "lease_seconds": 1}, "heartbeat_interval must be > 0"),
    ],
)
def test_worker_config_refuses_bad_values(options: dict[str, float], message: str) -> None:
    fields: dict[str, object] = {"worker_id": "w", "concurrency": 2, **options}
    with pytest.raises(ValueError, match=message):
        WorkerConfig(**fields)  # type: ignore[arg-type]


def test_worker_config_accepts_a_lease_of_exactly_two_heartbeats_and_no_grace() -> None:
    config = WorkerConfig(
        worker_id="w", concurrency=1, lease_seconds=10, heartbeat_interval=5, shutdown_timeout=0
    )
    assert config.lease_seconds == 10
