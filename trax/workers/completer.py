"""The batch completer: run threads hand their outcomes here and wait; one thread writes them
in batches (one commit for many runs), retrying through database outages."""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, replace

from django.db import DatabaseError, DataError, InterfaceError, connections

from trax.log_fields import run_fields
from trax.models import FailureKind, TrainState
from trax.reconnect import drop_connections
from trax.store import Completion, RunOutcome, background_job_complete, log_write_batch

logger = logging.getLogger("trax.workers")

MAX_BACKOFF_SECONDS = 5.0


@dataclass
class _Pending:
    completion: Completion
    landed: Future[bool]


class BatchCompleter:
    """Collects completions from many threads and records them together."""

    def __init__(self, *, using: str, batch_size: int = 500, give_up_after: float = 60.0) -> None:
        self.using = using
        self.batch_size = batch_size
        self.give_up_after = give_up_after
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trax-completer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def complete(self, completion: Completion) -> bool:
        """Record ``completion`` with the next batch and wait until it is written; False when
        the run's claim was lost (another process owns its outcome)."""
        return self.submit(completion).result()

    def submit(self, completion: Completion) -> Future[bool]:
        """Queue ``completion`` for the next batch; the future says whether it landed."""
        landed: Future[bool] = Future()
        if self._closed.is_set():
            logger.warning(
                "run %s finished after its worker stopped; its lease will expire and the reaper "
                "will fail it as WorkerLost",
                completion.metadata_id,
                extra=run_fields(completion.metadata_id),
            )
            landed.set_result(False)
            return landed
        self._queue.put(_Pending(completion, landed))
        return landed

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        try:
            while not stopping:
                first = self._queue.get()
                if first is None:
                    break
                batch = [first]
                while len(batch) < self.batch_size:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stopping = True
                        break
                    batch.append(item)
                try:
                    self._write(batch)
                except Exception:  # not a database error (those are retried): a bug; go on
                    logger.exception("recording %d completions failed", len(batch))
                    for pending in batch:
                        if not pending.landed.done():
                            pending.landed.set_result(False)
                    drop_connections()
        finally:
            self._closed.set()
            while True:  # whoever queued after the stop is told at once, never left waiting
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item.landed.set_result(False)
            connections.close_all()

    def _write_unstorable(self, pending: _Pending) -> set[int]:
        completion = pending.completion
        logger.error(
            "the outcome of run %s cannot be stored; recording it as failed",
            completion.metadata_id,
            extra=run_fields(completion.metadata_id),
        )
        connections[self.using].close_if_unusable_or_obsolete()
        failed = replace(
            completion,
            outcome=RunOutcome(
                state=TrainState.FAILED,
                failure_exception=FailureKind.UNSTORABLE_OUTCOME,
                failure_reason="the run's outcome could not be written to the database",
                # No junction timings either: the fallback writes only what cannot be refused.
            ),
            requeue=None,
        )
        return background_job_complete([failed], using=self.using)

    def _write_logs(self, batch: list[_Pending]) -> None:
        """The runs' last log records, after their outcomes (a failure here loses logs, never
        an outcome: it is logged and the batch goes on)."""
        rows = [row for pending in batch for row in pending.completion.logs]
        try:
            log_write_batch(rows, using=self.using)
        except DatabaseError:
            logger.warning(
                "could not write the captured logs of %d runs", len(batch), exc_info=True
            )

    def _write(self, batch: list[_Pending]) -> None:
        delay, waited = 0.1, 0.0
        while True:
            try:
                landed = background_job_complete([p.completion for p in batch], using=self.using)
            except DataError:
                # One bad value must not hold the batch back: write them one by one, and record
                # a run whose outcome cannot be stored as failed with the reason.
                if len(batch) > 1:
                    for pending in batch:
                        self._write([pending])
                    return
                landed = self._write_unstorable(batch[0])
            except (DatabaseError, InterfaceError):
                if waited >= self.give_up_after:
                    logger.error(
                        "gave up recording %d completions after %.0f s; their leases will expire "
                        "and the reaper will fail them as WorkerLost",
                        len(batch),
                        waited,
                    )
                    for pending in batch:
                        pending.landed.set_result(False)
                    return
                logger.warning(
                    "could not record %d completions; retrying in %.1f s",
                    len(batch),
                    delay,
                    exc_info=True,
                )
                connections[self.using].close()
                threading.Event().wait(delay)
                waited += delay
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
                continue
            self._write_logs(batch)
            for pending in batch:
                ok = pending.completion.metadata_id in landed
                if not ok:
                    logger.warning(
                        "run %s finished here but its claim was lost; its record was left as "
                        "the new owner set it",
                        pending.completion.metadata_id,
                        extra=run_fields(pending.completion.metadata_id),
                    )
                pending.landed.set_result(ok)
            return
