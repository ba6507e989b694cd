"""The dispatcher cycle: load queued -> load capacity -> apply limits -> dispatch, a train of
small steps with ``now`` injected. It writes no run record of its own unless it fails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import trax
from trax.conf import effective_settings
from trax.core import Failure
from trax.dispatch.config import DispatcherConfig
from trax.dispatch.context import DispatchCycle
from trax.dispatch.steps.capacity import Selected, apply_limits, load_capacity
from trax.dispatch.steps.dispatch import Dispatched, dispatch
from trax.dispatch.steps.load_queued import QueuedWork, load_queued
from trax.metrics.process import counting
from trax.store import database_now, run_records_alias

DISPATCHER_TRAIN_NAME = "trax.dispatcher_cycle"


@dataclass(frozen=True)
class DispatchReport:
    """What one cycle did."""

    candidates: int
    dispatched: int
    failed_submissions: int
    global_cap_reached: bool
    full_batch: bool = False
    group_cap_reached: bool = False

    @property
    def waits_for_capacity(self) -> bool:
        """Whether work was held back by a cap (then freed capacity is worth a cycle)."""
        return self.global_cap_reached or self.group_cap_reached


def report(
    cycle: DispatchCycle, queued: QueuedWork, selected: Selected, dispatched: Dispatched
) -> DispatchReport:
    """Gather the steps' counts."""
    return DispatchReport(
        candidates=len(queued.candidates),
        dispatched=dispatched.runs,
        failed_submissions=dispatched.failed_submissions,
        global_cap_reached=selected.global_cap_reached,
        full_batch=len(queued.candidates) >= cycle.config.batch_size,
        group_cap_reached=selected.group_cap_reached,
    )


class DispatcherCycle(trax.Train[DispatchCycle, DispatchReport]):
    """One pass of the dispatcher."""

    name = DISPATCHER_TRAIN_NAME
    junctions = [load_queued, load_capacity, apply_limits, dispatch, report]


def run_dispatcher_cycle(
    now: datetime | None = None,
    *,
    config: DispatcherConfig | None = None,
    using: str | None = None,
) -> DispatchReport:
    """Run one dispatcher cycle at ``now`` (default: the database's clock)."""
    alias = using or run_records_alias()
    cycle = DispatchCycle(
        now=now or database_now(alias),
        config=config or DispatcherConfig.from_settings(effective_settings(using=alias)),
        using=alias,
    )
    result = DispatcherCycle().run_result(cycle)
    if isinstance(result, Failure):
        # Once an hour per distinct failure, not a record every cycle while it lasts.
        cycle.faults.report(
            step=result.context.junction_name, what="the cycle", error=result.error, using=alias
        )
        raise result.error
    metrics = counting(cycle.config.metrics)
    if metrics is not None:
        metrics.submissions_failed(result.value.failed_submissions)
    return result.value
