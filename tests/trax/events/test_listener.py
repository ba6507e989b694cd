"""Cross-process events: LISTEN/NOTIFY on PostgreSQL (delivered on commit, never from a rolled-back
transaction, surviving a lost connection), polling with an early wake-up on SQLite."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, transaction

import trax
from tests.trax.dispatch.factories import GREET, PERSON, claim, dispatch_all, enqueue_jobs
from trax.events.channels import CAPACITY_FREED, JOBS_READY, RUN_CANCEL, WORK_QUEUED
from trax.events.listener import RECONNECTED, Event, Listener
from trax.events.notify import notify
from trax.models import TrainState
from trax.store import RunOutcome, metadata_request_cancel
from trax.store.background_jobs.completion import Completion, background_job_complete

CHANNEL = "trax_test_events"

postgresql_only = pytest.mark.postgresql
sqlite_only = pytest.mark.skipif(
    "connection.vendor == 'postgresql'", reason="the polling listener of SQLite"
)


class Boom(Exception):
    pass


@pytest.fixture
def listen() -> Iterator[Callable[..., Listener]]:
    """``listen(*channels)``: a listener, connected (its first wait done), closed afterwards."""
    made: list[Listener] = []

    def make(*channels: str) -> Listener:
        listener = Listener(channels or (CHANNEL,), using="default")
        made.append(listener)
        if listener.enabled:
            assert listener.wait(0.01) == [Event(RECONNECTED, "")]
        return listener

    yield make
    for listener in made:
        listener.close()


def channels_of(events: list[Event]) -> list[str]:
    return [e.channel for e in events]


def wait_for(listener: Listener, channel: str, *, timeout: float = 10.0) -> list[Event]:
    """Every event up to and including the first on ``channel`` (failing after ``timeout``)."""
    seen: list[Event] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += listener.wait(max(deadline - time.monotonic(), 0.01))
        if channel in channels_of(seen):
            return seen
    raise AssertionError(f"no event on {channel} within {timeout:g} s; got {seen}")


def listener_pids(channel: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'LISTEN%%' AND query LIKE %s AND pid <> pg_backend_pid()",
            [f"%{channel}%"],
        )
        return [row[0] for row in cursor.fetchall()]


# ── PostgreSQL ──────────────────────────────────────────────────────────────────────────────


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_first_wait_connects_and_says_so() -> None:
    listener = Listener([CHANNEL], using="default")
    try:
        assert listener.enabled
        assert listener.wait(0.05) == [Event(RECONNECTED, "")]
        assert listener.wait(0.05) == []  # connected now: nothing to report
    finally:
        listener.close()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_notification_arrives_when_its_transaction_commits(
    listen: Callable[..., Listener],
) -> None:
    listener = listen()
    with transaction.atomic():
        notify(CHANNEL, "hello")
        assert listener.wait(0.05) == []  # not before the commit

    assert wait_for(listener, CHANNEL) == [Event(CHANNEL, "hello")]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_notifies_nobody(listen: Callable[..., Listener]) -> None:
    listener = listen()
    with pytest.raises(Boom), transaction.atomic():
        notify(CHANNEL, "never")
        raise Boom
    notify(CHANNEL, "marker")  # autocommit: delivered after anything sent before it

    assert wait_for(listener, CHANNEL) == [Event(CHANNEL, "marker")]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_several_notifications_are_all_returned(listen: Callable[..., Listener]) -> None:
    listener = listen(CHANNEL, "trax_test_other")
    with transaction.atomic():
        notify(CHANNEL, "1")
        notify("trax_test_other", "2")
        notify(CHANNEL, "3")
    seen: list[Event] = []
    while len(seen) < 3:
        got = listener.wait(10)
        assert got, f"only {seen} arrived"
        seen += got
    assert seen == [Event(CHANNEL, "1"), Event("trax_test_other", "2"), Event(CHANNEL, "3")]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_listener_whose_connection_is_terminated_reconnects(
    listen: Callable[..., Listener],
) -> None:
    listener = listen()
    (pid,) = listener_pids(CHANNEL)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

    events = listener.wait(5)
    while RECONNECTED not in channels_of(events):
        events = listener.wait(5)
    assert RECONNECTED in channels_of(events)

    # Listening again, on a new connection: the next notification arrives.
    if listener._connection is None:
        assert RECONNECTED in channels_of(listener.wait(0.05))
    (new_pid,) = listener_pids(CHANNEL)
    assert new_pid != pid
    notify(CHANNEL, "after")
    assert Event(CHANNEL, "after") in wait_for(listener, CHANNEL)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_enqueue_in_a_committed_transaction_notifies_work_queued(
    listen: Callable[..., Listener], settings: Any
) -> None:
    settings.TRAX = {**getattr(settings, "TRAX", {}), "DIRECT_DISPATCH": False}
    listener = listen(WORK_QUEUED)
    with pytest.raises(Boom), transaction.atomic():
        trax.enqueue(GREET, PERSON)
        raise Boom
    assert listener.wait(0.1) == []

    with transaction.atomic():
        trax.enqueue(GREET, PERSON)
        assert listener.wait(0.05) == []

    assert channels_of(wait_for(listener, WORK_QUEUED)) == [WORK_QUEUED]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_direct_work_wakes_the_workers_when_its_transaction_commits(
    listen: Callable[..., Listener],
) -> None:
    listener = listen(JOBS_READY)
    with pytest.raises(Boom), transaction.atomic():
        trax.enqueue(GREET, PERSON)
        raise Boom
    assert listener.wait(0.1) == []

    with transaction.atomic():
        trax.enqueue(GREET, PERSON)
        assert listener.wait(0.05) == []

    assert channels_of(wait_for(listener, JOBS_READY)) == [JOBS_READY]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_dispatch_notifies_the_workers_and_completion_the_dispatcher(
    listen: Callable[..., Listener],
) -> None:
    listener = listen(JOBS_READY, CAPACITY_FREED)
    trax.enqueue(GREET, PERSON)

    dispatch_all()
    assert JOBS_READY in channels_of(wait_for(listener, JOBS_READY))

    (run,) = claim()
    background_job_complete(
        [
            Completion(
                metadata_id=run.metadata_id,
                claim_token=run.claim_token,
                outcome=RunOutcome(state=TrainState.COMPLETED),
            )
        ],
        using="default",
    )
    assert CAPACITY_FREED in channels_of(wait_for(listener, CAPACITY_FREED))


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_cancel_request_notifies_the_run_ids(listen: Callable[..., Listener]) -> None:
    listener = listen(RUN_CANCEL)
    runs = enqueue_jobs(2)
    claim(limit=2)

    metadata_request_cancel(runs[0].pk, using="default")

    events = [e for e in wait_for(listener, RUN_CANCEL) if e.channel == RUN_CANCEL]
    assert events == [Event(RUN_CANCEL, str(runs[0].pk))]


# ── SQLite ──────────────────────────────────────────────────────────────────────────────────


@sqlite_only
@pytest.mark.django_db
def test_on_sqlite_wait_returns_nothing_after_its_timeout() -> None:
    listener = Listener([WORK_QUEUED], using="default")
    assert not listener.enabled
    started = time.monotonic()
    assert listener.wait(0.05) == []
    assert time.monotonic() - started >= 0.05
    trax.enqueue(GREET, PERSON)  # nothing is sent: SQLite processes poll
    assert listener.wait(0.01) == []


@sqlite_only
@pytest.mark.django_db
def test_on_sqlite_wake_makes_a_waiting_listener_return_early() -> None:
    listener = Listener([WORK_QUEUED], using="default")
    returned: list[list[Event]] = []
    waiting = threading.Thread(target=lambda: returned.append(listener.wait(60)))
    started = time.monotonic()
    waiting.start()
    listener.wake()
    waiting.join(10)
    assert not waiting.is_alive()
    assert returned == [[]]
    assert time.monotonic() - started < 10


@sqlite_only
@pytest.mark.django_db
def test_on_sqlite_a_wake_before_the_wait_is_not_lost_and_is_used_once() -> None:
    listener = Listener([WORK_QUEUED], using="default")
    listener.wake()
    started = time.monotonic()
    assert listener.wait(60) == []
    assert time.monotonic() - started < 10
    started = time.monotonic()
    assert listener.wait(0.05) == []
    assert time.monotonic() - started >= 0.05


@sqlite_only
@pytest.mark.django_db
def test_on_sqlite_notify_sends_nothing() -> None:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        notify(CHANNEL, "x")
    assert len(queries) == 0
