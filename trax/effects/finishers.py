"""How a run's end is recorded: one interface for every entry point. A finisher takes the
outcome and hands back a ``Landing``; the lifecycle waits on it only when hooks listen (they
must fire after the outcome is written)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Protocol

from django.db import DatabaseError

from trax.log_fields import run_fields
from trax.models import Log, TrainState
from trax.store import RunOutcome, log_write_batch, manifest_record_success, metadata_finish

logger = logging.getLogger("trax.runs")


class Landing(Protocol):
    """A finish on its way to the database."""

    def wait(self) -> bool:
        """Block until written; False when the run was no longer this executor's to finish."""
        ...


class Finisher(Protocol):
    """Records a run's final state."""

    def finish(
        self,
        metadata_id: int,
        outcome: RunOutcome,
        manifest_id: int | None,
        *,
        logs: Sequence[Log] = (),
    ) -> Landing:
        """Start writing ``outcome`` and the run's last captured ``logs``; the returned landing
        says when and whether the outcome landed."""
        ...


class Landed:
    """A finish written already."""

    def __init__(self, landed: bool) -> None:
        self.landed = landed

    def wait(self) -> bool:
        return self.landed


class FutureLanding:
    """A finish a batch writer will record (a worker's batch completer)."""

    def __init__(self, future: Future[bool]) -> None:
        self.future = future

    def wait(self) -> bool:
        return self.future.result()


class DirectFinisher:
    """Writes the finish at once in its own transaction (a run executed in place): guarded by
    state, stamping a completed manifest run's success in the same transaction."""

    def __init__(self, *, alias: str, also: Sequence[Callable[[], None]] = ()) -> None:
        self.alias = alias
        self.also = tuple(also)

    def finish(
        self,
        metadata_id: int,
        outcome: RunOutcome,
        manifest_id: int | None,
        *,
        logs: Sequence[Log] = (),
    ) -> Landing:
        try:
            log_write_batch(logs, using=self.alias)
        except DatabaseError:
            logger.warning(
                "could not write captured logs of run %s",
                metadata_id,
                exc_info=True,
                extra=run_fields(metadata_id),
            )
        writes = list(self.also)
        if outcome.state == TrainState.COMPLETED and manifest_id is not None:
            writes.append(
                lambda: manifest_record_success(manifest_id, metadata_id, using=self.alias)
            )
        landed = metadata_finish(metadata_id, outcome, also=writes, using=self.alias)
        if not landed:
            logger.warning(
                "run %s was no longer in progress when it finished as %s; its record was left "
                "as another process set it",
                metadata_id,
                outcome.state,
                extra=run_fields(metadata_id),
            )
        return Landed(landed)
