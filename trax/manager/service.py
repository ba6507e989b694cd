"""The manager service: a leader-gated loop that syncs declarations and runs cycles.

Any number of scheduler processes may run it; one leads at a time through the ``manager``
lease (renewed every cycle, compared in database time). A follower takes over within one lease
after the leader dies. Database outages are logged and retried with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import Error

from trax.manager.config import ManagerConfig
from trax.manager.cycle import CycleReport, run_manager_cycle
from trax.reconnect import drop_connections, on_fresh_connection
from trax.scheduling.declarations import ManifestDeclaration
from trax.scheduling.manifests import SaveReport, save_declarations
from trax.store import database_now, leader_acquire, leader_release

logger = logging.getLogger("trax.manager")

MANAGER_LEASE = "manager"
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class ManagerServiceConfig:
    """How the service loops; validated on creation."""

    holder: str
    polling_interval_seconds: float = 5.0
    lease_seconds: float = 15.0
    using: str = "default"
    #: Read before each sleep when given (the runtime settings), else the fixed interval.
    interval_source: Callable[[], float] | None = None

    def __post_init__(self) -> None:
        if not self.holder:
            raise ValueError("holder must name this process")
        if self.polling_interval_seconds <= 0:
            raise ValueError("polling_interval_seconds must be > 0")
        if self.lease_seconds <= self.polling_interval_seconds:
            raise ValueError("lease_seconds must be longer than the polling interval")


class ManagerService:
    """Runs the manager cycle while this process holds the lease."""

    def __init__(
        self,
        config: ManagerServiceConfig,
        *,
        declarations: Sequence[ManifestDeclaration] = (),
        cycle_config: ManagerConfig | None = None,
    ) -> None:
        self.config = config
        self.declarations = list(declarations)
        self.cycle_config = cycle_config
        self.is_leader = False
        # Set by a successful acquire, cleared only by a refused one: after an error the lease
        # may still be ours in the database (is_leader is not), so a stop still releases it.
        self._may_hold_lease = False
        self.synced = False
        self.stopping = threading.Event()
        self.lease_token = uuid.uuid4()  # this process's: a namesake elsewhere cannot renew

    def run_once(self) -> CycleReport | None:
        """One iteration: take or renew the lease; when leading, sync once and run a cycle.
        Returns the cycle's report, or None when another process leads."""
        using = self.config.using
        leading = leader_acquire(
            MANAGER_LEASE,
            self.config.holder,
            # A longer interval set at runtime keeps the lease alive across three cycles.
            lease_seconds=max(self.config.lease_seconds, self.interval() * 3),
            token=self.lease_token,
            using=using,
        )
        if leading != self.is_leader:
            logger.info(
                "%s %s the manager lease", self.config.holder, "took" if leading else "lost"
            )
        self.is_leader = self._may_hold_lease = leading
        if not leading:
            self.synced = False
            return None
        if not self.synced:
            self.sync()
        return run_manager_cycle(config=self.cycle_config, using=using)

    def sync(self) -> SaveReport:
        """Write the start-up declarations (one transaction) and prune undeclared ones."""
        report = save_declarations(
            self.declarations,
            now=database_now(self.config.using),
            using=self.config.using,
            declared_in_code=True,
            prune_missing=True,
        )
        self.synced = True
        logger.info(
            "synced declarations: %d created, %d updated, %d pruned",
            len(report.created),
            len(report.updated),
            len(report.pruned),
        )
        return report

    def run_forever(self) -> None:
        """Loop until ``stop()``; a database error backs off and reconnects."""
        backoff = self.config.polling_interval_seconds
        try:
            while not self.stopping.is_set():
                try:
                    self.run_once()
                    backoff = self.config.polling_interval_seconds
                except Exception as error:  # a bad row must not stop scheduling for good
                    kind = "database error" if isinstance(error, Error) else "error"
                    logger.warning(
                        "%s in the manager loop; retrying in %.1f s", kind, backoff, exc_info=True
                    )
                    drop_connections()  # a server restart leaves them dead
                    self.is_leader = self.synced = False
                    self.stopping.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                    continue
                self._sleep()
        finally:
            self.release()

    def _sleep(self) -> None:
        # In slices of at most a second, the interval read again each time: an interval
        # shortened at runtime cuts a long sleep short instead of waiting it out.
        began = time.monotonic()
        while not self.stopping.is_set():
            remaining = began + self.interval() - time.monotonic()
            if remaining <= 0:
                return
            self.stopping.wait(min(remaining, 1.0))

    def interval(self) -> float:
        """Seconds until the next cycle: the source's current value (runtime settings), or the
        configured interval when there is none or it fails."""
        source = self.config.interval_source
        if source is None:
            return self.config.polling_interval_seconds
        try:
            return source()
        except Exception:
            logger.warning("could not read the polling interval; keeping it", exc_info=True)
            return self.config.polling_interval_seconds

    def stop(self) -> None:
        """Ask the loop to finish its iteration and return."""
        self.stopping.set()

    def release(self) -> None:
        """Give the lease up so a follower need not wait it out (also after an error left
        the loop unsure it still leads); on a fresh connection if this one died while the loop
        slept (a server restart)."""
        if self.is_leader or self._may_hold_lease:
            try:
                holder, using = self.config.holder, self.config.using
                on_fresh_connection(lambda: leader_release(MANAGER_LEASE, holder, using=using))
            except Error:
                logger.warning("could not release the manager lease", exc_info=True)
            self.is_leader = self._may_hold_lease = False
