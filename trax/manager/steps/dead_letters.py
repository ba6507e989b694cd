"""Step: dead-letter manifests whose consecutive failures exceed their max retries (or whose
train this deployment does not have); the manifest then waits for an operator."""

from __future__ import annotations

from dataclasses import dataclass

from trax.housekeeping import report_refused
from trax.manager.context import Cycle
from trax.manager.steps.failure_streaks import FailureStreaks
from trax.models import DeadLetter, FailureKind
from trax.store import dead_letter_create, write_isolating


@dataclass(frozen=True)
class DeadLettered:
    manifests: int


def create_dead_letters(cycle: Cycle, failures: FailureStreaks) -> DeadLettered:
    """At most one awaiting dead letter per manifest (a partial unique index enforces it)."""
    letters = []
    for streak in failures.streaks:
        if streak.latest_exception == FailureKind.UNKNOWN_TRAIN:
            reason = f"train {streak.train_name!r} is not registered where it ran (UnknownTrain)"
        elif streak.failures > streak.max_retries:
            reason = (
                f"{streak.failures} consecutive failures exceed max retries ({streak.max_retries})"
            )
        else:
            continue
        letters.append(
            DeadLetter(
                manifest_id=streak.manifest_id,
                last_failed_run_id=streak.latest_run_id,
                reason=reason,
                retry_count=streak.failures - 1,
            )
        )
    written = write_isolating(
        letters, lambda batch: dead_letter_create(batch, using=cycle.using), using=cycle.using
    )
    report_refused(
        cycle,
        "create_dead_letters",
        written.refused,
        lambda letter: f"the dead letter of manifest {letter.manifest_id}",
    )
    return DeadLettered(sum(written.results))
