"""The settings one manager cycle runs with, captured once per cycle."""

from __future__ import annotations

import math
from dataclasses import dataclass

from trax.conf import TraxSettings


@dataclass(frozen=True)
class ManagerConfig:
    """Durations in seconds; None switches the rule off."""

    default_job_timeout_seconds: float | None = 1200.0
    stale_pending_timeout_seconds: float = 1200.0
    stale_in_progress_backstop_seconds: float = 3600.0
    shutdown_timeout_seconds: float = 30.0
    retry_delay_seconds: float = 300.0
    retry_backoff_multiplier: float = 2.0
    max_retry_delay_seconds: float = 3600.0
    dependent_priority_boost: int = 16
    misfire_threshold_seconds: float = 60.0
    metadata_retention_seconds: float | None = 30 * 24 * 3600.0
    cleanup_batch_size: int = 1000
    dead_letter_retention_seconds: float | None = 30 * 24 * 3600.0
    lease_seconds: float = 30.0
    rollup_retention_seconds: float | None = 90 * 24 * 3600.0
    rollup_minute_retention_seconds: float | None = 7 * 24 * 3600.0
    #: Count retries and dead letters in this process's Prometheus instruments.
    metrics: bool = False
    #: A span per cycle (when an OpenTelemetry SDK is configured): what it queues links to it.
    tracing: bool = False
    #: Not a setting: how far behind the settled point the fold stops (trax/store/rollups.py).
    rollup_settle_seconds: float = 1.0

    @classmethod
    def from_settings(cls, conf: TraxSettings) -> ManagerConfig:
        """The cycle's configuration from ``settings.TRAX``."""
        return cls(
            default_job_timeout_seconds=conf.DEFAULT_JOB_TIMEOUT_SECONDS,
            stale_pending_timeout_seconds=conf.STALE_PENDING_TIMEOUT_SECONDS,
            stale_in_progress_backstop_seconds=conf.STALE_IN_PROGRESS_BACKSTOP_SECONDS,
            shutdown_timeout_seconds=conf.SHUTDOWN_TIMEOUT_SECONDS,
            retry_delay_seconds=conf.RETRY_DELAY_SECONDS,
            retry_backoff_multiplier=conf.RETRY_BACKOFF_MULTIPLIER,
            max_retry_delay_seconds=conf.MAX_RETRY_DELAY_SECONDS,
            dependent_priority_boost=conf.DEPENDENT_PRIORITY_BOOST,
            misfire_threshold_seconds=conf.MISFIRE_THRESHOLD_SECONDS,
            metadata_retention_seconds=conf.METADATA_RETENTION_SECONDS,
            cleanup_batch_size=conf.CLEANUP_BATCH_SIZE,
            dead_letter_retention_seconds=conf.DEAD_LETTER_RETENTION_SECONDS,
            lease_seconds=conf.LEASE_SECONDS,
            rollup_retention_seconds=conf.ROLLUP_RETENTION_SECONDS,
            rollup_minute_retention_seconds=conf.ROLLUP_MINUTE_RETENTION_SECONDS,
            metrics=conf.METRICS,
            tracing=conf.TRACING,
        )

    def retry_delay(self, failures: int, base_seconds: float | None = None) -> float:
        """Backoff before retry number ``failures`` (1-based): base * multiplier^(n-1), capped.
        The cap is applied before the power is taken (in logarithms), so no count of failures
        or multiplier overflows."""
        base = self.retry_delay_seconds if base_seconds is None else base_seconds
        cap = self.max_retry_delay_seconds
        exponent = max(failures - 1, 0)
        multiplier = self.retry_backoff_multiplier
        if base <= 0 or cap <= 0:
            return 0.0
        if base >= cap:
            return cap
        if exponent == 0 or multiplier <= 1:
            return base
        if exponent * math.log(multiplier) >= math.log(cap / base):
            return cap
        return min(base * multiplier**exponent, cap)
