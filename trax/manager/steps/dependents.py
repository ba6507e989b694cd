"""Step: queue dependents whose parent succeeded since the success they last acted on."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Q

from trax.housekeeping import report_refused
from trax.manager.context import Cycle
from trax.manager.steps.eligibility import eligible_manifests
from trax.models import ScheduleType
from trax.models.choices import PRIORITY_MAX
from trax.store import NewWorkEntry, manifest_queue_dependent, write_isolating


@dataclass(frozen=True)
class QueuedDependents:
    queued: int


def queue_dependents(cycle: Cycle) -> QueuedDependents:
    """The entry carries the parent success it acts on (``parent_success_stamp``) and the
    dependent priority boost; the child's ``last_parent_success_seen`` is set to that success in
    the same transaction. Dormant dependents never fire here."""
    ready = (
        eligible_manifests(cycle.using)
        .filter(schedule_type=ScheduleType.DEPENDENT, depends_on__last_successful_run__isnull=False)
        .filter(
            Q(last_parent_success_seen__isnull=True)
            | Q(last_parent_success_seen__lt=F("depends_on__last_successful_run"))
        )
        .values_list("id", "train_name", "input", "priority", "depends_on__last_successful_run")
        .order_by("id")
    )
    boost = cycle.config.dependent_priority_boost
    queued = 0
    for manifest_id, train_name, data, priority, parent_success in ready:
        entry = NewWorkEntry(
            train_name=train_name,
            input=data,
            manifest_id=manifest_id,
            priority=min(priority + boost, PRIORITY_MAX),
            scheduled_at=cycle.now,
            parent_success_stamp=parent_success,
        )
        written = write_isolating(
            [entry],
            lambda batch: _queue(batch[0], using=cycle.using),
            using=cycle.using,
        )
        queued += sum(written.results)
        report_refused(
            cycle, "queue_dependents", written.refused, lambda e: f"manifest {e.manifest_id}"
        )
    return QueuedDependents(queued)


def _queue(entry: NewWorkEntry, *, using: str) -> int:
    assert entry.parent_success_stamp is not None
    return int(manifest_queue_dependent(entry, entry.parent_success_stamp, using=using))
