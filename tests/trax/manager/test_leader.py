"""Leader election: the lease row of DESIGN.md §6, and the manager service gated by it.

Leases are compared in database time, so every wait here polls the database's clock until it
passes the lease's expiry (bounded), instead of sleeping and hoping. Runs on both databases;
the real two-process election is in test_scheduler_command.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connections

import trax
from trax.manager.cycle import CycleReport
from trax.manager.service import MANAGER_LEASE, ManagerService, ManagerServiceConfig
from trax.models import Leader, Manifest, WorkQueue, WorkQueueStatus
from trax.scheduling.declarations import ManifestDeclaration, ScheduleBuilder
from trax.scheduling.manifests import save_declarations
from trax.store import database_now, leader_acquire, leader_release

pytestmark = pytest.mark.django_db

DUTY = "test-duty"
LONG = 30.0  # a lease that cannot expire during a test
TINY = 0.2  # a lease a test waits out (in database time)
WAIT_LIMIT_SECONDS = 10.0


def lease(name: str = DUTY) -> Leader:
    return Leader.objects.get(name=name)


def wait_until_expired(name: str = DUTY, *, using: str = "default") -> None:
    """Poll the database's clock until it is past the lease's expiry (bounded)."""
    expires_at = Leader.objects.using(using).get(name=name).expires_at
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while database_now(using) <= expires_at:
        assert time.monotonic() < deadline, f"lease {name} still live in database time"
        time.sleep(0.02)


# ── leader_acquire / leader_release ──────────────────────────────────────────────────────────


def test_the_first_holder_takes_a_free_lease_until_now_plus_its_length() -> None:
    before = database_now()
    assert leader_acquire(DUTY, "A", lease_seconds=LONG)
    after = database_now()
    row = lease()
    assert row.holder == "A"
    assert before + timedelta(seconds=LONG) <= row.expires_at + timedelta(milliseconds=1)
    assert row.expires_at <= after + timedelta(seconds=LONG)


def test_a_second_holder_is_refused_while_the_lease_is_live_and_changes_nothing() -> None:
    assert leader_acquire(DUTY, "A", lease_seconds=LONG)
    held = lease()
    assert not leader_acquire(DUTY, "B", lease_seconds=LONG)
    row = lease()
    assert (row.holder, row.token, row.expires_at) == ("A", held.token, held.expires_at)


def test_the_holder_renews_its_lease_and_keeps_its_token() -> None:
    assert leader_acquire(DUTY, "A", lease_seconds=LONG)
    first = lease()
    assert leader_acquire(DUTY, "A", lease_seconds=2 * LONG)
    renewed = lease()
    assert renewed.holder == "A"
    assert renewed.token == first.token
    assert renewed.expires_at > first.expires_at


def test_the_holder_may_renew_a_lease_nobody_took_after_it_expired() -> None:
    assert leader_acquire(DUTY, "A", lease_seconds=TINY)
    token = lease().token
    wait_until_expired()
    assert leader_acquire(DUTY, "A", lease_seconds=LONG)
    assert lease().token == token


def test_an_expired_lease_passes_to_another_holder_with_a_new_token() -> None:
    assert leader_acquire(DUTY, "A", lease_seconds=TINY)
    old = lease()
    assert not leader_acquire(DUTY, "B", lease_seconds=LONG)
    wait_until_expired()
    assert leader_acquire(DUTY, "B", lease_seconds=LONG)
    new = lease()
    assert new.holder == "B"
    assert new.token != old.token
    assert new.expires_at > old.expires_at
    # ... and the old holder, back from wherever it was, is now refused.
    assert not leader_acquire(DUTY, "A", lease_seconds=LONG)
    assert lease().holder == "B"


@pytest.mark.parametrize("seconds", [1, 0.5, 15.0], ids=["int", "fraction", "float"])
def test_any_positive_number_of_seconds_is_a_lease_length(seconds: float) -> None:
    before = database_now()
    assert leader_acquire(DUTY, "A", lease_seconds=seconds)
    remaining = (lease().expires_at - before).total_seconds()
    assert seconds - 0.01 <= remaining <= seconds + 5


def test_release_lets_another_holder_take_over_at_once() -> None:
    assert leader_acquire(DUTY, "A", lease_seconds=LONG)
    assert leader_release(DUTY, "A")
    assert not Leader.objects.filter(name=DUTY).exists()
    assert leader_acquire(DUTY, "B", lease_seconds=LONG)
    assert lease().holder == "B"


def test_a_release_by_a_non_holder_does_nothing() -> None:
    assert leader_acquire(DUTY, "A", lease_seconds=LONG)
    held = lease()
    assert not leader_release(DUTY, "B")
    row = lease()
    assert (row.holder, row.token, row.expires_at) == ("A", held.token, held.expires_at)
    assert not leader_acquire(DUTY, "B", lease_seconds=LONG)


def test_releasing_a_lease_nobody_holds_does_nothing() -> None:
    assert not leader_release(DUTY, "A")
    assert not Leader.objects.exists()


def test_leases_of_different_duties_are_independent() -> None:
    assert leader_acquire("duty-1", "A", lease_seconds=LONG)
    assert leader_acquire("duty-2", "B", lease_seconds=LONG)
    assert leader_release("duty-1", "A")
    assert lease("duty-2").holder == "B"


# ── ManagerService.run_once ──────────────────────────────────────────────────────────────────


def tick_declarations() -> list[ManifestDeclaration]:
    """A code declaration: ``tick`` runs demo.greet every minute (first run at once)."""
    return (
        ScheduleBuilder()
        .schedule("tick", "demo.greet", {"name": "Ada"}, trax.Every.minutes(1))
        .declarations
    )


def service(
    holder: str, *, lease_seconds: float = LONG, interval: float = 0.1, **kwargs: Any
) -> ManagerService:
    config = ManagerServiceConfig(
        holder=holder, polling_interval_seconds=interval, lease_seconds=lease_seconds
    )
    return ManagerService(config, **kwargs)


@pytest.fixture
def sync_calls() -> Iterator[mock.MagicMock]:
    """Counts the service's declaration syncs (each still writes to the database)."""
    with mock.patch("trax.manager.service.save_declarations", wraps=save_declarations) as spy:
        yield spy


def test_the_leader_runs_a_cycle_and_a_follower_returns_none() -> None:
    leader, follower = service("A"), service("B")
    report = leader.run_once()
    assert isinstance(report, CycleReport)
    assert leader.is_leader
    assert follower.run_once() is None
    assert not follower.is_leader
    assert lease(MANAGER_LEASE).holder == "A"
    # The follower keeps asking every iteration, and keeps being told no.
    assert follower.run_once() is None
    assert isinstance(leader.run_once(), CycleReport)


def test_a_follower_writes_nothing(sync_calls: mock.MagicMock) -> None:
    assert leader_acquire(MANAGER_LEASE, "someone else", lease_seconds=LONG)
    follower = service("B", declarations=tick_declarations())
    assert follower.run_once() is None
    sync_calls.assert_not_called()
    assert not Manifest.objects.exists()
    assert not WorkQueue.objects.exists()


def test_the_leaders_cycle_queues_what_is_due() -> None:
    leader = service("A", declarations=tick_declarations())
    report = leader.run_once()
    assert report is not None
    assert report.occurrences_queued == 1
    entry = WorkQueue.objects.get()
    assert entry.manifest_id == Manifest.objects.get(external_id="tick").pk
    assert entry.status == WorkQueueStatus.QUEUED
    second = leader.run_once()
    assert second is not None and second.occurrences_queued == 0


def test_the_leader_syncs_declarations_once_per_leadership(
    sync_calls: mock.MagicMock, caplog: pytest.LogCaptureFixture
) -> None:
    """Sync on taking the lease; not while keeping it; again on each later taking of it."""
    caplog.set_level(logging.INFO, logger="trax.manager")
    a = service("A", declarations=tick_declarations(), lease_seconds=TINY)
    b = service("B", declarations=tick_declarations())

    def tamper() -> None:
        """A change to a field code owns: the next sync puts it back."""
        Manifest.objects.filter(external_id="tick").update(priority=7)

    def priority() -> int:
        return Manifest.objects.get(external_id="tick").priority

    assert a.run_once() is not None
    assert sync_calls.call_count == 1
    assert priority() == 0
    tamper()
    assert a.run_once() is not None  # renewing: no sync
    assert sync_calls.call_count == 1
    assert priority() == 7

    wait_until_expired(MANAGER_LEASE)  # A stalls past its lease; B takes over and syncs
    assert b.run_once() is not None
    assert sync_calls.call_count == 2
    assert priority() == 0
    assert a.run_once() is None  # A learns it lost
    assert not a.is_leader and not a.synced

    tamper()
    b.release()  # B shuts down cleanly: A leads again at once and syncs again
    assert not Leader.objects.filter(name=MANAGER_LEASE).exists()
    assert a.run_once() is not None
    assert sync_calls.call_count == 3
    assert priority() == 0

    messages = [r.getMessage() for r in caplog.records if r.name == "trax.manager"]
    transitions = [m for m in messages if m.endswith("the manager lease")]
    assert transitions == [
        "A took the manager lease",
        "B took the manager lease",
        "A lost the manager lease",
        "A took the manager lease",
    ]


def test_release_gives_up_the_lease_only_when_leading() -> None:
    follower = service("B")
    assert leader_acquire(MANAGER_LEASE, "A", lease_seconds=LONG)
    follower.run_once()
    follower.release()
    assert lease(MANAGER_LEASE).holder == "A"
    assert leader_release(MANAGER_LEASE, "A")
    leader = service("A")
    leader.run_once()
    leader.release()
    assert not leader.is_leader
    assert not Leader.objects.exists()


@pytest.mark.django_db(transaction=True)  # the error path closes this thread's connections
def test_a_stop_during_the_backoff_after_an_error_still_gives_the_lease_up() -> None:
    leader = service("A")
    leader.run_once()

    def restart(*args: Any, **kwargs: Any) -> bool:
        leader.stop()  # the stop comes while the loop backs off
        raise OperationalError("terminating connection due to administrator command")

    with mock.patch("trax.manager.service.leader_acquire", side_effect=restart):
        leader.run_forever()

    assert not leader.is_leader
    assert not Leader.objects.filter(name=MANAGER_LEASE).exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"holder": ""}, "holder must name this process"),
        ({"polling_interval_seconds": 0}, "polling_interval_seconds must be > 0"),
        ({"lease_seconds": 1.0, "polling_interval_seconds": 1.0}, "longer than the polling"),
    ],
)
def test_service_config_refuses_bad_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ManagerServiceConfig(**{"holder": "A", **kwargs})


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_run_forever_leads_until_stopped_then_releases_the_lease() -> None:
    leader = service("A", lease_seconds=1.0, interval=0.05)
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            leader.run_forever()
        except BaseException as error:  # reported by the test
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        wait_for(lambda: Leader.objects.filter(name=MANAGER_LEASE, holder="A").exists(), "A")
        first: datetime = lease(MANAGER_LEASE).expires_at
        wait_for(lambda: lease(MANAGER_LEASE).expires_at > first, "a renewal of the lease")
    finally:
        leader.stop()
        thread.join(WAIT_LIMIT_SECONDS)
    assert not thread.is_alive()
    assert errors == []
    assert not Leader.objects.filter(name=MANAGER_LEASE).exists()
