"""Steps: how many runs are active now, and which candidates fit under the caps."""

from __future__ import annotations

from dataclasses import dataclass, field

from trax.dispatch.context import DispatchCycle
from trax.dispatch.steps.load_queued import QueuedWork
from trax.store import (
    QueuedEntry,
    manifest_group_caps,
    metadata_count_active,
    metadata_count_active_by_group,
)


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
    """Count active runs once per cycle (the store reads only rows in active states); nothing
    is counted when no cap applies."""
    groups = sorted({c.group_id for c in queued.candidates if c.group_id is not None})
    caps = manifest_group_caps(groups, using=cycle.using)
    capped = [group for group, cap in caps.items() if cap is not None]
    by_group = metadata_count_active_by_group(capped, using=cycle.using)
    uncapped = cycle.config.max_active_jobs is None
    return Capacity(
        active=0 if uncapped else metadata_count_active(using=cycle.using),
        active_by_group=by_group,
        group_caps=caps,
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
