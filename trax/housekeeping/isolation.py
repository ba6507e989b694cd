"""Fault isolation for housekeeping cycles. One manifest, run or work entry that cannot be
processed must not stop every cycle everywhere: a failing step returns its empty result, a
failing row is skipped, and each is logged and recorded as a failed cycle run (once an hour per
distinct fault, so a row that fails every cycle does not write a record every cycle)."""

from __future__ import annotations

import functools
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction

from trax.core import FailureContext
from trax.effects.host import detect_host
from trax.store import record_housekeeping_failure

logger = logging.getLogger("trax.housekeeping")

#: The database itself is unreachable or the connection broke: nothing in the cycle can work,
#: so these stop the cycle and the process's loop reconnects (never reported as a bad row).
CONNECTION_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)

#: Distinct faults remembered for de-duplication; older ones are forgotten past this.
MAX_REMEMBERED = 10_000

R = TypeVar("R")
T = TypeVar("T")


@dataclass
class FaultReporter:
    """Logs and records the faults of one housekeeping train, each distinct fault at most once
    per ``repeat_after`` seconds (a count of the repeats goes with the next report)."""

    train_name: str
    repeat_after: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    #: Every fault seen, reported or only counted (a cycle's report takes the difference).
    count: int = 0
    _seen: dict[tuple[str, str, str], tuple[float, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, *, step: str, what: str, error: BaseException, using: str) -> bool:
        """Report that ``what`` failed in ``step``; False when it was reported recently (it is
        then only counted)."""
        key = (step, what, type(error).__name__)
        now = self.clock()
        with self._lock:
            self.count += 1
            last, repeats = self._seen.get(key, (float("-inf"), 0))
            if now - last < self.repeat_after:
                self._seen[key] = (last, repeats + 1)
                return False
            if len(self._seen) >= MAX_REMEMBERED:
                self._forget_before(now - self.repeat_after)
            self._seen[key] = (now, 0)
        again = f" ({repeats} more times since the last report)" if repeats else ""
        message = f"{what} failed and was skipped: {type(error).__name__}: {error}{again}"
        logger.error("%s, step %s: %s", self.train_name, step, message, exc_info=error)
        try:
            record_housekeeping_failure(
                self.train_name,
                FailureContext(
                    train_name=self.train_name,
                    junction_name=step,
                    exception_type=type(error).__name__,
                    message=message,
                    stack_trace="".join(traceback.format_exception(error)),
                ),
                host=detect_host(),
                using=using,
            )
        except DatabaseError:
            logger.warning("could not record the fault of %s", step, exc_info=True)
        return True

    def forget(self) -> None:
        """Forget every fault seen (tests start each case afresh)."""
        with self._lock:
            self._seen.clear()
            self.count = 0

    def _forget_before(self, moment: float) -> None:
        for key in [k for k, (at, _) in self._seen.items() if at < moment]:
            del self._seen[key]
        if len(self._seen) >= MAX_REMEMBERED:
            self._seen.clear()


def report_refused(
    cycle: IsolatedCycle,
    step: str,
    refused: Iterable[tuple[T, Exception]],
    describe: Callable[[T], str],
) -> int:
    """Report each row a step could not process (``describe`` names it); returns how many."""
    count = 0
    for row, error in refused:
        cycle.faults.report(step=step, what=describe(row), error=error, using=cycle.using)
        count += 1
    return count


class IsolatedCycle(Protocol):
    """What an isolated step needs of its cycle."""

    @property
    def using(self) -> str: ...

    @property
    def faults(self) -> FaultReporter: ...


def isolated(empty: Callable[[], R]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Make a cycle step fail alone: an exception (not a lost connection) is reported and the
    step gives ``empty()``, so the steps after it still run. Inside a transaction the step gets
    a savepoint, so its failed statement does not abort the steps after it."""

    def decorate(step: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(step)
        def run(*args: Any, **kwargs: Any) -> R:
            cycle: IsolatedCycle = kwargs.get("cycle") or args[0]
            try:
                if connections[cycle.using].in_atomic_block:
                    with transaction.atomic(using=cycle.using):
                        return step(*args, **kwargs)
                return step(*args, **kwargs)
            except CONNECTION_ERRORS:
                raise
            except Exception as error:
                cycle.faults.report(
                    step=step.__name__, what="the step", error=error, using=cycle.using
                )
                return empty()

        return run

    return decorate
