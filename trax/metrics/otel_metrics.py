"""The per-process instruments mirrored through the OpenTelemetry metrics API, for users who
export metrics with an OpenTelemetry SDK rather than scrape Prometheus: created only when an
SDK has set a real meter provider."""

from __future__ import annotations

import threading

try:
    from opentelemetry import metrics
except ImportError:  # the tracing extra is not installed
    metrics = None  # type: ignore[assignment]

#: Instrumentation scope of trax's instruments.
METER_NAME = "trax"


def meter_active() -> bool:
    """Whether an SDK set a meter provider (the API's default proxy records nothing)."""
    if metrics is None:
        return False
    provider = metrics.get_meter_provider()
    return type(provider).__name__ not in {"_ProxyMeterProvider", "NoOpMeterProvider"}


class OtelMetrics:
    """The same events as the Prometheus instruments, as OpenTelemetry instruments
    (``trax.runs.started``, ``trax.runs.finished``, ``trax.run.duration``, ``trax.queue.wait``,
    ``trax.runs.retried``, ``trax.dead_letters``, ``trax.dispatch.failures``)."""

    def __init__(self) -> None:
        meter = metrics.get_meter(METER_NAME)
        self.started = meter.create_counter("trax.runs.started", "{run}", "Runs started here.")
        self.finished = meter.create_counter(
            "trax.runs.finished", "{run}", "Runs finished here, by outcome."
        )
        self.duration = meter.create_histogram(
            "trax.run.duration", "s", "Seconds from a run's start to its end."
        )
        self.queue_wait = meter.create_histogram(
            "trax.queue.wait", "s", "Seconds from when a run was due to its start."
        )
        self.retried = meter.create_counter("trax.runs.retried", "{run}", "Retries queued.")
        self.dead_letters = meter.create_counter(
            "trax.dead_letters", "{letter}", "Dead letters written."
        )
        self.dispatch_failures = meter.create_counter(
            "trax.dispatch.failures", "{run}", "Submissions that could not be made."
        )

    def run_started(self, train: str, waited: float | None) -> None:
        """A run of ``train`` started, ``waited`` seconds after it was due (None: not queued)."""
        attributes = {"trax.train": train}
        self.started.add(1, attributes)
        if waited is not None:
            self.queue_wait.record(max(waited, 0.0), attributes)

    def run_finished(self, train: str, outcome: str, seconds: float) -> None:
        """A run of ``train`` ended ``outcome`` after ``seconds``."""
        self.finished.add(1, {"trax.train": train, "trax.outcome": outcome})
        self.duration.record(seconds, {"trax.train": train})

    def retries_queued(self, count: int) -> None:
        """The manager queued ``count`` retries."""
        if count:
            self.retried.add(count)

    def dead_lettered(self, count: int) -> None:
        """The manager wrote ``count`` dead letters."""
        if count:
            self.dead_letters.add(count)

    def submissions_failed(self, count: int) -> None:
        """The dispatcher could not make ``count`` submissions."""
        if count:
            self.dispatch_failures.add(count)


_lock = threading.Lock()
_instruments: OtelMetrics | None = None


def otel_metrics() -> OtelMetrics | None:
    """The instruments, made on first use once an SDK is configured; None before."""
    global _instruments
    if _instruments is not None:
        return _instruments
    if not meter_active():
        return None
    with _lock:
        if _instruments is None:
            _instruments = OtelMetrics()
    return _instruments


def forget() -> None:
    """Make the instruments again on next use (a test installed another provider)."""
    global _instruments
    _instruments = None
