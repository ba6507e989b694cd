"""Steps: fail runs nobody will finish — pending ones no worker holds, and in-progress ones
with no live claim past the backstop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from trax.manager.context import Cycle
from trax.models import FailureKind, Metadata, TrainState
from trax.store import metadata_fail_in_progress, metadata_fail_stale_pending


@dataclass(frozen=True)
class StalePendingRuns:
    failed: int


@dataclass(frozen=True)
class StaleInProgressRuns:
    failed: int


def fail_stale_pending_runs(cycle: Cycle) -> StalePendingRuns:
    """Fail pending runs older than the stale-pending timeout that have no job or claim."""
    seconds = cycle.config.stale_pending_timeout_seconds
    failed = metadata_fail_stale_pending(
        cycle.now - timedelta(seconds=seconds),
        reason=f"pending for more than {seconds:g} s with no worker holding it",
        using=cycle.using,
    )
    return StalePendingRuns(failed)


def fail_stale_in_progress_runs(cycle: Cycle) -> StaleInProgressRuns:
    """Fail in-progress runs with no live claim (no job, or its lease expired) once they are
    older than the larger of the backstop and their timeout plus the shutdown grace."""
    config = cycle.config
    backstop = config.stale_in_progress_backstop_seconds
    candidates = (
        Metadata.objects.using(cycle.using)
        .filter(
            train_state=TrainState.IN_PROGRESS,
            start_time__lt=cycle.now - timedelta(seconds=backstop),
        )
        .exclude(background_job__lease_expires_at__gt=cycle.now)
        # A nested run has no job of its own: it is alive while its parent is in progress.
        .exclude(parent__train_state=TrainState.IN_PROGRESS)
        .values_list("id", "start_time", "manifest__timeout_seconds")
    )
    stale = []
    for run_id, started, timeout in candidates:
        limit = timeout or config.default_job_timeout_seconds or 0
        threshold = max(backstop, limit + config.shutdown_timeout_seconds)
        if started is not None and started + timedelta(seconds=threshold) < cycle.now:
            stale.append(run_id)
    failed = metadata_fail_in_progress(
        stale,
        exception=FailureKind.STALE_IN_PROGRESS,
        reason="in progress past the backstop with no live claim; its executor is gone",
        using=cycle.using,
    )
    return StaleInProgressRuns(failed)
