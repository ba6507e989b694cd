"""Steps: how many runs are active now, and which candidates fit under the caps."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count

from trax.dispatch.context import DispatchCycle
from trax.dispatch.steps.load_queued import QueuedWork
from trax.models import ACTIVE_STATES, ManifestGroup, Metadata
from trax.store import QueuedEntry

HOUSEKEEPING_PREFIX = "trax."


@dataclass(frozen=True)
class Capacity:
    """Active (pending + in-progress) runs, housekeeping excluded: overall and per group, with
    each group's cap."""

    active: int
    active_by_group: dict[int, int] = field(default_factory=dict)
    group_caps: dict[int, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Selected:
    entries: tuple[QueuedEntry, ...]
    global_cap_reached: bool
    group_cap_reached: bool = False


def load_capacity(cycle: DispatchCycle, queued: QueuedWork) -> Capacity:
    """Count active runs once per cycle (reads only rows in active states); nothing is counted
    when no cap applies."""
    active = (
        Metadata.objects.using(cycle.using)
        .filter(train_state__in=ACTIVE_STATES)
        .exclude(name__startswith=HOUSEKEEPING_PREFIX)
    )
    groups = {c.group_id for c in queued.candidates if c.group_id is not None}
    by_group: dict[int, int] = {}
    caps: dict[int, int | None] = {}
    if groups:
        caps = dict(
            ManifestGroup.objects.using(cycle.using)
            .filter(id__in=groups)
            .values_list("id", "max_active_jobs")
        )
        capped = [g for g, cap in caps.items() if cap is not None]
        if capped:
            by_group = dict(
                active.filter(manifest__group_id__in=capped)
                .order_by()
                .values_list("manifest__group_id")
                .annotate(n=Count("id"))
                .values_list("manifest__group_id", "n")
            )
    uncapped = cycle.config.max_active_jobs is None
    return Capacity(
        active=0 if uncapped else active.count(), active_by_group=by_group, group_caps=caps
    )


def apply_limits(cycle: DispatchCycle, queued: QueuedWork, capacity: Capacity) -> Selected:
    """Walk the candidates in order: the global cap stops the cycle; a group's cap skips only
    that group."""
    cap = cycle.config.max_active_jobs
    active = capacity.active
    by_group = dict(capacity.active_by_group)
    chosen: list[QueuedEntry] = []
    group_capped = False
    for candidate in queued.candidates:
        if cap is not None and active >= cap:
            return Selected(tuple(chosen), global_cap_reached=True, group_cap_reached=group_capped)
        group = candidate.group_id
        group_cap = capacity.group_caps.get(group) if group is not None else None
        if group is not None and group_cap is not None and by_group.get(group, 0) >= group_cap:
            group_capped = True
            continue
        chosen.append(candidate.entry)
        active += 1
        if group is not None:
            by_group[group] = by_group.get(group, 0) + 1
    return Selected(tuple(chosen), global_cap_reached=False, group_cap_reached=group_capped)
