"""Is the trax cluster healthy? Five checks read from the shared database, so any one process
answers for all: the database answers, a scheduler holds the manager lease, enough workers
beat, the oldest due work waits no longer than allowed, and dead letters stay under a limit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError

from trax.conf import TraxSettings
from trax.manager.service import MANAGER_LEASE
from trax.metrics.readings import (
    dead_letters_awaiting,
    leases_held,
    live_processes,
    oldest_due_age,
)
from trax.store import database_now


@dataclass(frozen=True)
class HealthThresholds:
    """What counts as healthy; None switches a limit off."""

    max_queue_age_seconds: float | None = 300.0
    min_workers: int = 1
    require_leader: bool = True
    max_awaiting_dead_letters: int | None = None
    worker_stale_seconds: float = 30.0

    @classmethod
    def from_settings(cls, conf: TraxSettings) -> HealthThresholds:
        """The ``HEALTH_*`` settings; a process is stale after ``LEASE_SECONDS`` of silence."""
        return cls(
            max_queue_age_seconds=conf.HEALTH_MAX_QUEUE_AGE_SECONDS,
            min_workers=conf.HEALTH_MIN_WORKERS,
            require_leader=conf.HEALTH_REQUIRE_LEADER,
            max_awaiting_dead_letters=conf.HEALTH_MAX_AWAITING_DEAD_LETTERS,
            worker_stale_seconds=conf.LEASE_SECONDS,
        )


@dataclass(frozen=True)
class Check:
    """One check's outcome: its name, whether it passed, what was found, and why."""

    name: str
    ok: bool
    value: Any
    detail: str


@dataclass(frozen=True)
class HealthReport:
    """Every check at ``checked_at`` (database time; None when the database did not answer)."""

    checked_at: datetime | None
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks)

    def failing(self) -> list[Check]:
        """The checks that did not pass."""
        return [check for check in self.checks if not check.ok]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"healthy": bool, "checked_at": iso, "checks": {name: {...}}}``."""
        return {
            "healthy": self.healthy,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "checks": {
                check.name: {"ok": check.ok, "value": check.value, "detail": check.detail}
                for check in self.checks
            },
        }


def check_health(thresholds: HealthThresholds, *, using: str) -> HealthReport:
    """Run every check against the database ``using``; never raises for a database that is
    away (that is the first check failing, and the others are reported as not checked)."""
    started = time.monotonic()
    try:
        now = database_now(using)
    except DatabaseError as error:
        reason = f"not checked: the database did not answer ({type(error).__name__})"
        return HealthReport(
            checked_at=None,
            checks=(
                Check("database", False, None, f"unreachable: {error}".strip()),
                *(Check(name, False, None, reason) for name in _AFTER_DATABASE),
            ),
        )
    took_ms = round((time.monotonic() - started) * 1000, 1)
    try:
        checks = (
            Check("database", True, took_ms, f"answered in {took_ms:g} ms"),
            _leader(now, thresholds, using=using),
            _workers(now, thresholds, using=using),
            _queue_age(now, thresholds, using=using),
            _dead_letters(thresholds, using=using),
        )
    except DatabaseError as error:  # it answered, then went away mid-check
        return HealthReport(
            checked_at=now,
            checks=(
                Check("database", False, None, f"failed mid-check: {error}".strip()),
                *(Check(name, False, None, "not checked") for name in _AFTER_DATABASE),
            ),
        )
    return HealthReport(checked_at=now, checks=checks)


_AFTER_DATABASE = ("leader", "workers", "queue_age", "dead_letters")


def _leader(now: datetime, thresholds: HealthThresholds, *, using: str) -> Check:
    holder = leases_held(now, using=using).get(MANAGER_LEASE)
    if holder is not None:
        return Check("leader", True, holder, f"{holder} leads")
    if not thresholds.require_leader:
        return Check("leader", True, None, "no scheduler leads (not required)")
    return Check("leader", False, None, "no scheduler holds the manager lease")


def _workers(now: datetime, thresholds: HealthThresholds, *, using: str) -> Check:
    live = live_processes(
        now, stale_after=thresholds.worker_stale_seconds, using=using
    ).with_run_threads
    wanted = thresholds.min_workers
    detail = f"{live} live worker process(es), at least {wanted} wanted"
    return Check("workers", live >= wanted, live, detail)


def _queue_age(now: datetime, thresholds: HealthThresholds, *, using: str) -> Check:
    age = oldest_due_age(now, using=using)
    limit = thresholds.max_queue_age_seconds
    if limit is None:
        return Check("queue_age", True, age, f"oldest due work waits {age:g} s (no limit)")
    return Check(
        "queue_age", age <= limit, age, f"oldest due work waits {age:g} s, limit {limit:g} s"
    )


def _dead_letters(thresholds: HealthThresholds, *, using: str) -> Check:
    awaiting = dead_letters_awaiting(using=using)
    limit = thresholds.max_awaiting_dead_letters
    if limit is None:
        return Check("dead_letters", True, awaiting, f"{awaiting} awaiting a person (no limit)")
    return Check(
        "dead_letters",
        awaiting <= limit,
        awaiting,
        f"{awaiting} awaiting a person, limit {limit}",
    )
