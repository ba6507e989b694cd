"""The settings one dispatcher cycle runs with."""

from __future__ import annotations

from dataclasses import dataclass

from trax.conf import TraxSettings


@dataclass(frozen=True)
class DispatcherConfig:
    """``max_active_jobs`` None = no global cap."""

    max_active_jobs: int | None = 10
    max_concurrent_dispatch: int = 1
    max_dispatch_attempts: int = 5
    batch_size: int = 1000
    #: Count failed submissions in this process's Prometheus instruments.
    metrics: bool = False

    @classmethod
    def from_settings(cls, conf: TraxSettings) -> DispatcherConfig:
        """The dispatcher's configuration from ``settings.TRAX``."""
        return cls(
            max_active_jobs=conf.MAX_ACTIVE_JOBS,
            max_concurrent_dispatch=conf.MAX_CONCURRENT_DISPATCH,
            max_dispatch_attempts=conf.MAX_DISPATCH_ATTEMPTS,
            batch_size=conf.DISPATCH_BATCH_SIZE,
            metrics=conf.METRICS,
        )
