"""This process's own Prometheus instruments: runs it started and finished, their durations and
queue waits, and the retries, dead letters and failed submissions its manager and dispatcher
made. Counted only when ``prometheus-client`` is installed (the ``metrics`` extra) and
``TRAX['METRICS']`` is on; mirrored through OpenTelemetry when an SDK is configured
(``trax.metrics.otel_metrics``)."""

from __future__ import annotations

import threading
from typing import Any

#: Seconds; runs from milliseconds to an hour, queue waits likewise.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class ProcessMetrics:
    """The instruments, registered once on ``registry`` (prometheus-client's default: the one
    ``/metrics`` and ``--metrics-port`` serve)."""

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter, Histogram

        self.started = Counter(
            "trax_runs_started",
            "Runs this process started.",
            ["train"],
            registry=registry,
        )
        self.finished = Counter(
            "trax_runs_finished",
            "Runs this process finished, by outcome (completed, failed, cancelled).",
            ["train", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "trax_run_duration_seconds",
            "Seconds from a run's start to its end, in this process.",
            ["train"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.queue_wait = Histogram(
            "trax_queue_wait_seconds",
            "Seconds a run waited between being due (scheduled, or its record made) and its "
            "start by a worker of this process.",
            ["train"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.retried = Counter(
            "trax_runs_retried", "Retries this process's manager queued.", registry=registry
        )
        self.dead_letters = Counter(
            "trax_dead_letters", "Dead letters this process's manager wrote.", registry=registry
        )
        self.dispatch_failures = Counter(
            "trax_dispatch_failures",
            "Submissions this process's dispatcher could not make.",
            registry=registry,
        )
        self._children: dict[str, tuple[Any, Any, Any]] = {}
        self._finished: dict[tuple[str, str], Any] = {}

    def run_started(self, train: str, waited: float | None) -> None:
        """A run of ``train`` started here, ``waited`` seconds after it was due (None: unknown
        or not queued, as a ``trax.run``)."""
        started, queue_wait, _ = self._of(train)
        started.inc()
        if waited is not None:
            queue_wait.observe(max(waited, 0.0))

    def run_finished(self, train: str, outcome: str, seconds: float) -> None:
        """A run of ``train`` ended ``outcome`` after ``seconds``."""
        finished = self._finished.get((train, outcome))
        if finished is None:
            finished = self._finished[(train, outcome)] = self.finished.labels(train, outcome)
        finished.inc()
        self._of(train)[2].observe(seconds)

    def retries_queued(self, count: int) -> None:
        """The manager queued ``count`` retries."""
        self.retried.inc(count)

    def dead_lettered(self, count: int) -> None:
        """The manager wrote ``count`` dead letters."""
        self.dead_letters.inc(count)

    def submissions_failed(self, count: int) -> None:
        """The dispatcher could not make ``count`` submissions."""
        self.dispatch_failures.inc(count)

    def _of(self, train: str) -> tuple[Any, Any, Any]:
        # labels() locks and hashes on every call: a run's hot path looks its children up once.
        children = self._children.get(train)
        if children is None:
            children = self._children[train] = (
                self.started.labels(train),
                self.queue_wait.labels(train),
                self.duration.labels(train),
            )
        return children


_lock = threading.Lock()
_instruments: ProcessMetrics | None = None
_unavailable = False


def process_metrics() -> ProcessMetrics | None:
    """The process's instruments, made on first use; None without ``prometheus-client``."""
    global _instruments, _unavailable
    if _instruments is not None or _unavailable:
        return _instruments
    with _lock:
        if _instruments is None and not _unavailable:
            try:
                from prometheus_client import REGISTRY
            except ImportError:
                _unavailable = True
                return None
            _instruments = ProcessMetrics(REGISTRY)
    return _instruments


class Recorders:
    """Several recorders told the same events (Prometheus and OpenTelemetry both on)."""

    def __init__(self, *recorders: Any) -> None:
        self.recorders = recorders

    def run_started(self, train: str, waited: float | None) -> None:
        for recorder in self.recorders:
            recorder.run_started(train, waited)

    def run_finished(self, train: str, outcome: str, seconds: float) -> None:
        for recorder in self.recorders:
            recorder.run_finished(train, outcome, seconds)

    def retries_queued(self, count: int) -> None:
        for recorder in self.recorders:
            recorder.retries_queued(count)

    def dead_lettered(self, count: int) -> None:
        for recorder in self.recorders:
            recorder.dead_lettered(count)

    def submissions_failed(self, count: int) -> None:
        for recorder in self.recorders:
            recorder.submissions_failed(count)


def counting(enabled: bool) -> Any:
    """What records this process's runs when ``enabled`` (``TRAX['METRICS']``): the Prometheus
    instruments, the OpenTelemetry ones (an SDK configured), both, or None."""
    if not enabled:
        return None
    from trax.metrics.otel_metrics import otel_metrics

    found = [recorder for recorder in (process_metrics(), otel_metrics()) if recorder is not None]
    if not found:
        return None
    return found[0] if len(found) == 1 else Recorders(*found)
