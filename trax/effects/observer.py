"""The lifecycle's junction observer: progress, the cancellation flag, logs, user providers."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import DatabaseError

from trax.core import JunctionSpec, RunContext, TrainCancelled
from trax.effects.logs import RunLogBuffer
from trax.effects.progress import current_board
from trax.effects.providers import EffectProvider, notify_providers
from trax.effects.timings import CANCELLED, COMPLETED, FAILED, JunctionTimings
from trax.log_fields import context_fields
from trax.metrics.tracing import RunTracing
from trax.models import CancelReason, Log, TrainState
from trax.store import CancelSignal, metadata_mark_junction, metadata_read_cancel_flag

logger = logging.getLogger("trax.effects")


class RunEffects:
    """Runs the effects at each junction boundary of one recorded run.

    With ``progress`` the running junction is recorded and the cancellation flag read in the
    same statement; on a worker's run thread the junction is noted for its heartbeat to publish
    instead. With only ``poll_cancel_flag`` the flag is read alone; a worker whose cancel
    watcher fires tokens from notifications turns polling off and reads nothing per junction.
    Each junction's start and end are kept in memory (``timings``) for the finish to write.
    """

    def __init__(
        self,
        *,
        run: RunContext,
        alias: str,
        progress: bool,
        poll_cancel_flag: bool,
        logs: RunLogBuffer | None,
        providers: Sequence[EffectProvider],
        timings: JunctionTimings | None = None,
        tracing: RunTracing | None = None,
    ) -> None:
        assert run.run_id is not None
        self.run = run
        self.run_id: int = run.run_id
        self.alias = alias
        self.progress = progress
        self.poll_cancel_flag = poll_cancel_flag
        self.logs = logs
        self.providers = providers
        self.timings = timings if timings is not None else JunctionTimings()
        self.tracing = tracing

    def before_junction(self, spec: JunctionSpec) -> None:
        board = current_board.get() if self.logs is not None else None
        if board is not None and self.logs is not None:
            board.hold_logs(self.run_id, self.logs)  # the heartbeat writes them
        else:
            self.flush_logs()
        signal = self._boundary_write(spec.name)
        if self.poll_cancel_flag and signal.requested:
            self.run.token.cancel(signal.reason or CancelReason.OPERATOR)
        notify_providers(self.providers, "junction_started", self.run, spec.name)
        if self.tracing is not None:
            self.tracing.junction_started(spec.name)
        self.timings.started(spec.name)  # last: the junction's time excludes our bookkeeping

    def after_junction(self, spec: JunctionSpec, error: BaseException | None) -> None:
        if self.tracing is not None:
            self.tracing.junction_ended(error)
        self.timings.ended(
            COMPLETED
            if error is None
            else CANCELLED
            if isinstance(error, TrainCancelled)
            else FAILED
        )
        notify_providers(self.providers, "junction_finished", self.run, spec.name, error)

    def flush_logs(self) -> None:
        """Write the run's buffered log records (a failed write is logged, not raised)."""
        if self.logs is None:
            return
        try:
            self.logs.flush(using=self.alias)
        except DatabaseError:
            logger.warning(
                "could not write captured logs of run %s",
                self.run_id,
                exc_info=True,
                extra=context_fields(self.run),
            )

    def take_logs(self) -> tuple[Log, ...]:
        """The records not written yet, for the finisher to write with the outcome."""
        return tuple(self.logs.drain()) if self.logs is not None else ()

    def take_timings(self, state: TrainState) -> list[dict[str, object]]:
        """The junctions reached, for the finisher to write with the outcome; one cut short
        without an end (cancelled at its boundary, or an exception escaped the engine) ends
        now, ``cancelled`` or ``failed`` as the run."""
        return self.timings.take(CANCELLED if state == TrainState.CANCELLED else FAILED)

    def _boundary_write(self, junction_name: str) -> CancelSignal:
        board = current_board.get() if self.progress else None
        if board is not None:  # in a worker: its heartbeat publishes the junction
            board.note(self.run_id, junction_name)
        try:
            if self.progress and board is None:
                return metadata_mark_junction(self.run_id, junction_name, using=self.alias)
            if self.poll_cancel_flag:
                return metadata_read_cancel_flag(self.run_id, using=self.alias)
        except DatabaseError:
            logger.warning(
                "could not record junction %s of run %s",
                junction_name,
                self.run_id,
                exc_info=True,
                extra=context_fields(self.run),
            )
        return CancelSignal(False, "")
