"""Step: cancel runs in progress for longer than their timeout (the manifest's, else default)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from trax.effects.cancel import cancel_run_tree
from trax.manager.context import Cycle
from trax.models import CancelReason, Metadata, TrainState


@dataclass(frozen=True)
class TimedOutRuns:
    cancelled: int


def cancel_timed_out_runs(cycle: Cycle) -> TimedOutRuns:
    """Flag timed-out runs (and their children) for cancellation with reason ``timeout``; their
    executors stop them at the next check, like an operator's cancel."""
    default = cycle.config.default_job_timeout_seconds
    running = (
        Metadata.objects.using(cycle.using)
        # A nested run lives within its parent's timeout: cancelling the parent cancels it.
        .filter(
            train_state=TrainState.IN_PROGRESS, cancellation_requested=False, parent__isnull=True
        )
        .exclude(start_time=None)
        .values_list("id", "start_time", "manifest__timeout_seconds")
    )
    timed_out = [
        run_id
        for run_id, started, timeout in running
        if started is not None
        and (limit := timeout or default) is not None
        and started + timedelta(seconds=limit) < cycle.now
    ]
    for run_id in timed_out:
        cancel_run_tree(run_id, reason=CancelReason.TIMEOUT, using=cycle.using)
    return TimedOutRuns(len(timed_out))
