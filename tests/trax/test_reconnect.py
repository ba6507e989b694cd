"""Outliving a dead connection (issue 8, defect #4): the one-off writes of a clean exit retry on
a fresh connection, and the helper threads keep going after any error. The PostgreSQL tests
kill this thread's own backend, as a server restart would, while the connection idles."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection, connections

from trax.manager.service import MANAGER_LEASE, ManagerService, ManagerServiceConfig
from trax.models import Leader, Worker, WorkerKind
from trax.reconnect import drop_connections, on_fresh_connection
from trax.workers.heartbeat import Heartbeat, register, unregister


@pytest.fixture
def kill_backend(transactional_db: None) -> Iterator[Callable[[], None]]:
    """``kill_backend()`` kills this thread's connection; whatever the test did, the dead
    connection is dropped before the database is flushed."""
    yield kill_this_threads_backend
    drop_connections()


def kill_this_threads_backend() -> None:
    """Terminate this thread's server connection from another one, as a restart would; Django
    does not notice until its next query fails."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    # Outside any pool: a borrowed connection closed here would never go back to it.
    other = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    try:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    assert connection.connection is not None  # still open as far as Django knows


def test_an_operation_is_retried_on_a_fresh_connection_after_a_database_error() -> None:
    calls: list[object] = []

    def flaky() -> str:
        calls.append(connection.connection)
        if len(calls) == 1:
            raise OperationalError("the connection is closed (simulated)")
        return "done"

    assert on_fresh_connection(flaky) == "done"
    assert len(calls) == 2


def test_the_last_error_is_raised_once_the_time_is_up() -> None:
    def down() -> None:
        raise OperationalError("the server is away (simulated)")

    with pytest.raises(OperationalError, match="away"):
        on_fresh_connection(down, within=0.3)


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def bug() -> None:
        calls.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        on_fresh_connection(bug)
    assert calls == [1]


@pytest.mark.django_db(transaction=True)
def test_dropping_closes_every_connection_of_this_thread() -> None:
    for alias in connections:
        connections[alias].ensure_connection()

    drop_connections()

    assert all(connections[alias].connection is None for alias in connections)


@pytest.mark.postgresql
def test_the_worker_row_goes_on_a_fresh_connection_after_the_old_one_died(
    kill_backend: Callable[[], None],
) -> None:
    assert register("h/w1", kind=WorkerKind.WORKER, concurrency=1, using="default")
    kill_backend()

    assert unregister("h/w1", using="default")

    assert not Worker.objects.filter(worker_id="h/w1").exists()


@pytest.mark.postgresql
def test_the_manager_lease_is_released_on_a_fresh_connection_after_the_old_one_died(
    kill_backend: Callable[[], None],
) -> None:
    manager = ManagerService(ManagerServiceConfig(holder="h:1:a", lease_seconds=30))
    manager.run_once()
    assert manager.is_leader
    kill_backend()

    manager.release()

    assert not manager.is_leader
    assert not Leader.objects.filter(name=MANAGER_LEASE).exists()


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_beating_after_an_error_that_is_not_the_databases() -> None:
    assert register("h/w2", kind=WorkerKind.WORKER, concurrency=1, using="default")
    published: list[int] = []
    beat_again = threading.Event()

    def publish() -> Any:
        published.append(1)
        if len(published) == 1:
            raise RuntimeError("a bug in a beat")
        beat_again.set()

    stopping = threading.Event()
    beat = Heartbeat(
        worker_id="h/w2",
        interval=0.05,
        lease_seconds=1,
        in_flight=lambda: [],
        using="default",
        stopping=stopping,
        publish=publish,
    )
    beat.start()
    try:
        assert beat_again.wait(10), "the heartbeat stopped after the error"
    finally:
        stopping.set()
        beat.join(5)
