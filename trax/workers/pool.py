"""The worker pool: a claim loop feeding N run threads, with a heartbeat, a cancel watcher and
a batch completer on threads of their own; graceful shutdown on request."""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import close_old_connections, connections

from trax.core import CancellationToken
from trax.effects.finishers import FutureLanding, Landing
from trax.effects.from_settings import ServiceCache
from trax.effects.lifecycle import RunService
from trax.effects.progress import ProgressBoard, current_board
from trax.events.channels import JOBS_READY
from trax.events.listener import Listener
from trax.log_fields import run_fields, set_worker_id
from trax.models import CancelReason, Log, WorkerKind
from trax.reconnect import drop_connections
from trax.store import (
    ClaimedRun,
    Completion,
    NewWorkEntry,
    RunOutcome,
    background_job_claim,
    work_queue_next_attempt,
    worker_register,
)
from trax.workers.cancel_watcher import CancelWatcher
from trax.workers.claim_sizing import ClaimSizer
from trax.workers.completer import BatchCompleter
from trax.workers.heartbeat import Heartbeat, unregister

logger = logging.getLogger("trax.workers")

MAX_BACKOFF_SECONDS = 10.0


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker pool runs; validated on creation (a lease must outlive missed beats)."""

    worker_id: str
    concurrency: int
    lease_seconds: float = 30.0
    heartbeat_interval: float = 5.0
    polling_interval: float = 1.0
    cancel_check_interval: float = 1.0
    shutdown_timeout: float = 30.0
    completion_batch_size: int = 500
    using: str = "default"
    kind: str = WorkerKind.WORKER

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1; got {self.concurrency}")
        if self.lease_seconds < 2 * self.heartbeat_interval:
            raise ValueError(
                f"the lease ({self.lease_seconds:g} s) must be at least two heartbeats "
                f"({self.heartbeat_interval:g} s each)"
            )
        for name in ("polling_interval", "cancel_check_interval", "heartbeat_interval"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.shutdown_timeout < 0:
            raise ValueError("shutdown_timeout must be >= 0")


@dataclass(frozen=True)
class ShutdownReport:
    """How a graceful stop went."""

    finished_in_grace: int
    cancelled_for_shutdown: int
    still_running: int


class WorkerPool:
    """Claims background jobs (woken by NOTIFY, polling as a fallback) and runs them."""

    def __init__(self, config: WorkerConfig, *, service: RunService | None = None) -> None:
        self.config = config
        # The watcher fires tokens from notifications, so runs read no flag per junction.
        self._services = ServiceCache(poll_cancel_flag=False)
        self._fixed_service = service
        # Read here and by the claim loop, never on a run thread (which then needs no
        # connection to start a run).
        self.service = service or self._services.get(using=config.using)
        self._in_flight: dict[int, tuple[ClaimedRun, CancellationToken]] = {}
        self._completing: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._slot_freed = threading.Condition(self._lock)
        self.stop_claiming = threading.Event()
        self.stopping = threading.Event()
        # Daemon threads: a run that ignores its token past the grace period must not keep
        # the process from exiting (its lease expires and the reaper takes it back).
        self._runs: queue.Queue[tuple[ClaimedRun, CancellationToken] | None] = queue.Queue()
        self.sizer = ClaimSizer(config.concurrency)
        self.progress = ProgressBoard()
        self._run_threads = [
            threading.Thread(target=self._run_thread, name=f"trax-run-{i}", daemon=True)
            for i in range(config.concurrency)
        ]
        self.completer = BatchCompleter(
            using=config.using,
            batch_size=config.completion_batch_size,
            give_up_after=config.lease_seconds,
        )
        self.heartbeat = Heartbeat(
            worker_id=config.worker_id,
            interval=config.heartbeat_interval,
            lease_seconds=config.lease_seconds,
            in_flight=self.in_flight_ids,
            using=config.using,
            stopping=self.stopping,
            kind=config.kind,
            concurrency=config.concurrency,
            on_lost=self._claims_lost,
            publish=lambda: self.progress.publish(using=config.using),
        )
        self.watcher = CancelWatcher(
            in_flight=self.in_flight_ids,
            check_interval=config.cancel_check_interval,
            using=config.using,
            stopping=self.stopping,
        )
        self._threads: list[threading.Thread] = []
        self._stop_requested = threading.Event()
        self.claimed_total = 0
        self.last_report: ShutdownReport | None = None

    # ── state ────────────────────────────────────────────────────────────────────────────────

    def runs_in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def in_flight_ids(self) -> list[int]:
        """Runs this process holds claims on: running, or finished with their outcome not yet
        written (their leases must still be renewed)."""
        with self._lock:
            return [*self._in_flight, *self._completing]

    # ── lifecycle ────────────────────────────────────────────────────────────────────────────

    def start(self) -> None:
        """Register the process row and start every thread."""
        config = self.config
        worker_register(
            worker_id=config.worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            kind=config.kind,
            concurrency=config.concurrency,
            using=config.using,
        )
        for thread in self._run_threads:
            thread.start()
        self.completer.start()
        self.heartbeat.start()
        self.watcher.start()
        for target, name in ((self._claim_loop, "trax-claim"), (self._listen, "trax-listen")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        set_worker_id(config.worker_id)
        logger.info(
            "worker %s started: %d run threads, lease %g s",
            config.worker_id,
            config.concurrency,
            config.lease_seconds,
        )

    def run_forever(self) -> None:
        """Start, then block until ``stop()``; then shut down gracefully."""
        self.start()
        # This thread only waits now: what it used to start gives its connections back.
        connections.close_all()
        self._stop_requested.wait()
        self.last_report = self.shutdown()

    def stop(self) -> None:
        """Ask ``run_forever`` to shut down gracefully."""
        self._stop_requested.set()

    def shutdown(self, *, grace: float | None = None) -> ShutdownReport:
        """Stop claiming; give in-flight runs the grace period; then cancel them (reason
        ``shutdown``: each is queued again as a new attempt); stop the helpers."""
        grace = self.config.shutdown_timeout if grace is None else grace
        self.stop_claiming.set()
        self._wake.set()
        before = self.runs_in_flight()
        with self._slot_freed:
            self._slot_freed.wait_for(lambda: not self._in_flight, timeout=grace)
            left = [token for _, token in self._in_flight.values()]
        for token in left:
            token.cancel(CancelReason.SHUTDOWN)
        with self._slot_freed:
            self._slot_freed.wait_for(lambda: not self._in_flight, timeout=max(grace, 5.0))
            still = len(self._in_flight)
        for _ in self._run_threads:
            self._runs.put(None)
        self.stopping.set()
        self.watcher.join(5)
        self.heartbeat.join(5)
        for thread in self._threads:
            thread.join(5)
        self.completer.stop()
        if still == 0:
            unregister(self.config.worker_id, using=self.config.using)
        connections.close_all()
        report = ShutdownReport(
            finished_in_grace=before - len(left),
            cancelled_for_shutdown=len(left) - still,
            still_running=still,
        )
        logger.info("worker %s stopped: %s", self.config.worker_id, report)
        return report

    # ── claiming ─────────────────────────────────────────────────────────────────────────────

    def claim_limit(self) -> int:
        """How many jobs to claim now: the idle threads, plus runs ahead when runs are short
        (``ClaimSizer``); 0 while stopping."""
        if self.stop_claiming.is_set():
            return 0
        waiting = self._runs.qsize()
        running = max(0, self.runs_in_flight() - waiting)
        return self.sizer.limit(running=running, waiting=waiting)

    def claim_once(self) -> int:
        """Claim as many jobs as ``claim_limit`` allows and start them; returns how many."""
        limit = self.claim_limit()
        if limit <= 0:
            return 0
        if self._fixed_service is None:  # runtime settings changed: the next runs use them
            self.service = self._services.get(using=self.config.using)
        claimed = background_job_claim(
            worker_id=self.config.worker_id,
            limit=limit,
            lease_seconds=self.config.lease_seconds,
            host=self.service.host,
            executor=self.service.executor,
            using=self.config.using,
        )
        for run in claimed:
            self._launch(run)
        self.claimed_total += len(claimed)
        return len(claimed)

    def _claim_loop(self) -> None:
        backoff = self.config.polling_interval
        try:
            while not self.stop_claiming.is_set():
                self._wake.clear()
                try:
                    wanted = self.claim_limit()
                    got = self.claim_once() if wanted else 0
                    backoff = self.config.polling_interval
                except Exception:  # a broken connection, or anything else: never die silently
                    logger.warning("claiming failed; retrying in %.1f s", backoff, exc_info=True)
                    drop_connections()
                    self.stop_claiming.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                    continue
                if got and got >= wanted:
                    continue  # more may be waiting; the loop waits for a slot when full
                self._wake.wait(self.config.polling_interval)
        finally:
            connections.close_all()

    def _listen(self) -> None:
        listener = Listener([JOBS_READY], using=self.config.using)
        if not listener.enabled:
            return
        try:
            while not self.stop_claiming.is_set():
                if listener.wait(self.config.polling_interval):
                    self._wake.set()
        finally:
            listener.close()

    # ── running ──────────────────────────────────────────────────────────────────────────────

    def _claims_lost(self, run_ids: set[int]) -> None:
        """Stop runs whose claims expired and were taken back: they are not ours any more. A
        run that already finished is left out: its claim went with its own completion (the
        heartbeat raced the completer), or its completion will find the claim gone."""
        with self._lock:
            running = {
                i: self._in_flight[i][1]
                for i in run_ids
                if i in self._in_flight and i not in self._completing
            }
        if not running:
            return
        logger.warning(
            "lost the claims of runs %s; stopping them",
            sorted(running),
            extra={"trax_run_ids": sorted(running)},
        )
        for token in running.values():
            token.cancel("claim lost")

    def _launch(self, run: ClaimedRun) -> None:
        token = CancellationToken()
        with self._lock:
            self._in_flight[run.metadata_id] = (run, token)
        self._runs.put((run, token))

    def _run_thread(self) -> None:
        current_board.set(self.progress)
        try:
            while (item := self._runs.get()) is not None:
                started = time.perf_counter()
                self._execute(*item)
                self.sizer.observe(time.perf_counter() - started)
                self.progress.forget(item[0].metadata_id)
        finally:
            connections.close_all()

    def _execute(self, run: ClaimedRun, token: CancellationToken) -> None:
        try:
            close_old_connections()
            service = self.service
            service.run_claimed(run, token=token, finisher=self)
        except BaseException:
            logger.exception(
                "run %s raised out of its lifecycle",
                run.metadata_id,
                extra=run_fields(run.metadata_id, run.name, run.attempt),
            )
        finally:
            # As at the end of a request: connections the run opened go back (to the pool,
            # where there is one) unless CONN_MAX_AGE keeps them, so between runs a run
            # thread holds none.
            close_old_connections()
            with self._slot_freed:
                self._in_flight.pop(run.metadata_id, None)
                self._slot_freed.notify_all()
            self._wake.set()

    def finish(
        self,
        metadata_id: int,
        outcome: RunOutcome,
        manifest_id: int | None,
        *,
        logs: Sequence[Log] = (),
    ) -> Landing:
        """The pool is its runs' finisher: the outcome goes to the batch completer, fenced by
        the run's claim token, and the run's thread is free at once (the lifecycle waits only
        when hooks listen). A run cancelled by this worker's shutdown is queued again."""
        with self._lock:
            run = self._in_flight[metadata_id][0]
            self._completing.add(metadata_id)
        requeue = None
        if outcome.cancel_reason == CancelReason.SHUTDOWN:
            requeue = self._next_attempt(run)
        landed = self.completer.submit(
            Completion(
                metadata_id=metadata_id,
                claim_token=run.claim_token,
                outcome=outcome,
                manifest_id=manifest_id,
                requeue=requeue,
                logs=tuple(logs),
            )
        )
        landed.add_done_callback(lambda _: self._completed(metadata_id))
        return FutureLanding(landed)

    def _completed(self, metadata_id: int) -> None:
        with self._lock:
            self._completing.discard(metadata_id)

    def _next_attempt(self, run: ClaimedRun) -> NewWorkEntry | None:
        if run.work_queue_id is None:
            return None
        # A shutdown is not a failure: the attempt, and so the retry budget, is untouched.
        return work_queue_next_attempt(
            run.work_queue_id, attempt=run.attempt, using=self.config.using
        )
