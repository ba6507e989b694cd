"""Step: queue the occurrences of interval, cron and once manifests that are due."""

from __future__ import annotations

import random
from dataclasses import dataclass

from trax.housekeeping import report_refused
from trax.manager.context import Cycle
from trax.manager.steps.eligibility import eligible_manifests
from trax.scheduling.next_run import TIMED_TYPES, decide_occurrence
from trax.store import (
    NewWorkEntry,
    Occurrence,
    manifest_advance,
    manifest_queue_occurrences,
    write_isolating,
)


@dataclass(frozen=True)
class QueuedOccurrences:
    queued: int
    skipped_misfires: int


def queue_due_manifests(cycle: Cycle) -> QueuedOccurrences:
    """Queue the due occurrences (the cycle's step; see ``queue_due``)."""
    return queue_due(cycle)


def queue_due(cycle: Cycle, rng: random.Random | None = None) -> QueuedOccurrences:
    """Due = eligible and ``next_run_at <= now`` (filtered in SQL on an index, so the cost grows
    with the due manifests, not all of them). Each fires once however many slots it missed,
    unless its misfire policy skips it; ``next_run_at`` moves on in the same transaction."""
    due = (
        eligible_manifests(cycle.using)
        .filter(schedule_type__in=TIMED_TYPES, next_run_at__lte=cycle.now)
        .only(
            "id",
            "train_name",
            "input",
            "priority",
            "schedule_type",
            "interval_seconds",
            "cron_expression",
            "timezone",
            "next_run_at",
            "misfire_policy",
            "misfire_threshold_seconds",
            "variance_seconds",
        )
        .order_by("next_run_at")
    )
    fired: list[Occurrence] = []
    skipped = []
    for manifest in due:
        try:
            decision = decide_occurrence(
                manifest,
                cycle.now,
                default_threshold_seconds=cycle.config.misfire_threshold_seconds,
                rng=rng,
            )
        except Exception as error:  # a row edited by hand into nonsense: skip it, keep the others
            cycle.faults.report(
                step="queue_due_manifests",
                what=f"manifest {manifest.pk} ({manifest.train_name})",
                error=error,
                using=cycle.using,
            )
            continue
        if decision.fire:
            entry = NewWorkEntry(
                train_name=manifest.train_name,
                input=manifest.input,
                manifest_id=manifest.pk,
                priority=manifest.priority,
                scheduled_at=cycle.now,
            )
            fired.append(Occurrence(entry, decision.next_run_at))
        else:
            skipped.append((manifest.pk, decision.next_run_at))
    written = write_isolating(
        fired, lambda batch: manifest_queue_occurrences(batch, using=cycle.using), using=cycle.using
    )
    report_refused(
        cycle,
        "queue_due_manifests",
        written.refused,
        lambda occurrence: f"manifest {occurrence.entry.manifest_id}",
    )
    queued = sum(written.results)
    manifest_advance(skipped, using=cycle.using)
    return QueuedOccurrences(queued=queued, skipped_misfires=len(skipped))
