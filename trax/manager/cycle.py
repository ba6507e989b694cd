"""The manifest manager cycle: trax's own engine running trax's own housekeeping.

The steps run in this order, each a junction with ``now`` injected through the Cycle:
reap expired worker leases -> cancel timed-out runs -> fail stale pending -> fail stale
in-progress -> load failure streaks -> queue retries -> dead-letter -> queue due manifests ->
queue dependents -> fold rollups -> clean up.
A cycle writes no run record unless something fails. Each step fails alone (``isolated``): a
step that raises is recorded and gives its empty result, and the steps that do not need its
result still run; a lost database connection stops the whole cycle.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from datetime import datetime

import trax
from trax.conf import effective_settings
from trax.core import Failure
from trax.housekeeping import isolated
from trax.manager.config import ManagerConfig
from trax.manager.context import Cycle
from trax.manager.steps.cleanup import CleanedUp, clean_up
from trax.manager.steps.dead_letters import DeadLettered, create_dead_letters
from trax.manager.steps.dependents import QueuedDependents, queue_dependents
from trax.manager.steps.due import QueuedOccurrences, queue_due_manifests
from trax.manager.steps.failure_streaks import FailureStreaks, load_failure_streaks
from trax.manager.steps.reaper import ReapedLeases, reap_expired_leases
from trax.manager.steps.retries import QueuedRetries, queue_retries
from trax.manager.steps.rollups import FoldedRuns, fold_rollups
from trax.manager.steps.stale_runs import (
    StaleInProgressRuns,
    StalePendingRuns,
    fail_stale_in_progress_runs,
    fail_stale_pending_runs,
)
from trax.manager.steps.timeouts import TimedOutRuns, cancel_timed_out_runs
from trax.metrics.process import counting
from trax.metrics.tracing import engine_span
from trax.store import database_now, run_records_alias

logger = logging.getLogger("trax.manager")

MANAGER_TRAIN_NAME = "trax.manager_cycle"


@dataclass(frozen=True)
class CycleReport:
    """What one cycle did, step by step."""

    worker_lost: int
    claims_released: int
    timed_out: int
    stale_pending: int
    stale_in_progress: int
    retries_queued: int
    dead_lettered: int
    occurrences_queued: int
    misfires_skipped: int
    dependents_queued: int
    runs_deleted: int
    dead_letters_purged: int
    work_entries_deleted: int = 0
    #: Steps or rows that failed and were skipped this cycle (each recorded as a failed run).
    faults: int = 0
    #: Finished runs folded into the rollups (bookkeeping: alone, not worth a log line).
    runs_folded: int = 0
    rollups_deleted: int = 0

    def did_anything(self) -> bool:
        """Whether any count but ``runs_folded`` is non-zero (cycles log only then)."""
        return any(value for name, value in asdict(self).items() if name != "runs_folded")

    def summary(self) -> tuple[int, str]:
        """The log level and a short line naming each non-zero count: WARNING when something
        failed, was retried, dead-lettered, lost or skipped; INFO for routine work."""
        counts = asdict(self)
        parts = [f"{counts[name]} {phrase}" for name, phrase, _ in _PHRASES if counts[name]]
        alarming = any(counts[name] for name, _, warns in _PHRASES if warns)
        return (logging.WARNING if alarming else logging.INFO), ", ".join(parts)


#: Each count as the summary line says it, and whether it makes the line a warning.
_PHRASES = (
    ("worker_lost", "run(s) lost with their worker", True),
    ("timed_out", "run(s) timed out", True),
    ("stale_pending", "stale pending run(s) failed", True),
    ("stale_in_progress", "stale running run(s) failed", True),
    ("retries_queued", "retry(ies) queued", True),
    ("dead_lettered", "dead letter(s)", True),
    ("misfires_skipped", "misfire(s) skipped", True),
    ("faults", "fault(s) skipped", True),
    ("claims_released", "claim(s) released", False),
    ("occurrences_queued", "scheduled run(s) queued", False),
    ("dependents_queued", "dependent run(s) queued", False),
    ("runs_deleted", "old run(s) deleted", False),
    ("work_entries_deleted", "old work entry(ies) deleted", False),
    ("dead_letters_purged", "resolved dead letter(s) purged", False),
    ("rollups_deleted", "old rollup(s) deleted", False),
)


def report(
    reaped: ReapedLeases,
    timed_out: TimedOutRuns,
    stale_pending: StalePendingRuns,
    stale_in_progress: StaleInProgressRuns,
    retries: QueuedRetries,
    dead_letters: DeadLettered,
    occurrences: QueuedOccurrences,
    dependents: QueuedDependents,
    folded: FoldedRuns,
    cleaned: CleanedUp,
) -> CycleReport:
    """Gather the steps' counts."""
    return CycleReport(
        worker_lost=reaped.worker_lost,
        claims_released=reaped.released,
        timed_out=timed_out.cancelled,
        stale_pending=stale_pending.failed,
        stale_in_progress=stale_in_progress.failed,
        retries_queued=retries.manifest_runs + retries.one_off_runs,
        dead_lettered=dead_letters.manifests,
        occurrences_queued=occurrences.queued,
        misfires_skipped=occurrences.skipped_misfires,
        dependents_queued=dependents.queued,
        runs_deleted=cleaned.runs,
        dead_letters_purged=cleaned.dead_letters,
        work_entries_deleted=cleaned.work_entries,
        runs_folded=folded.runs,
        rollups_deleted=cleaned.rollups,
    )


class ManagerCycle(trax.Train[Cycle, CycleReport]):
    """One pass of the manifest manager."""

    name = MANAGER_TRAIN_NAME
    junctions = [
        isolated(lambda: ReapedLeases(0, 0, 0))(reap_expired_leases),
        isolated(lambda: TimedOutRuns(0))(cancel_timed_out_runs),
        isolated(lambda: StalePendingRuns(0))(fail_stale_pending_runs),
        isolated(lambda: StaleInProgressRuns(0))(fail_stale_in_progress_runs),
        isolated(lambda: FailureStreaks(()))(load_failure_streaks),
        isolated(lambda: QueuedRetries(0, 0))(queue_retries),
        isolated(lambda: DeadLettered(0))(create_dead_letters),
        isolated(lambda: QueuedOccurrences(0, 0))(queue_due_manifests),
        isolated(lambda: QueuedDependents(0))(queue_dependents),
        isolated(lambda: FoldedRuns(0))(fold_rollups),
        isolated(lambda: CleanedUp(0, 0, 0))(clean_up),
        report,
    ]


def run_manager_cycle(
    now: datetime | None = None,
    *,
    config: ManagerConfig | None = None,
    using: str | None = None,
) -> CycleReport:
    """Run one cycle at ``now`` (default: the database's clock). On failure a failed run
    record is written and the original exception re-raised."""
    alias = using or run_records_alias()
    cycle = Cycle(
        now=now or database_now(alias),
        config=config or ManagerConfig.from_settings(effective_settings(using=alias)),
        using=alias,
    )
    faults_before = cycle.faults.count
    with engine_span("trax.manager_cycle") if cycle.config.tracing else nullcontext():
        result = ManagerCycle().run_result(cycle)
    if isinstance(result, Failure):
        # Once an hour per distinct failure, not a record every cycle while it lasts.
        cycle.faults.report(
            step=result.context.junction_name, what="the cycle", error=result.error, using=alias
        )
        raise result.error
    done = replace(result.value, faults=cycle.faults.count - faults_before)
    metrics = counting(cycle.config.metrics)
    if metrics is not None:
        metrics.retries_queued(done.retries_queued)
        metrics.dead_lettered(done.dead_lettered)
    if done.did_anything():
        level, line = done.summary()
        logger.log(level, "manager cycle: %s", line, extra={"trax_cycle": asdict(done)})
    return done
