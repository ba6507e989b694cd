"""What every dispatcher step receives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from trax.dispatch.config import DispatcherConfig
from trax.housekeeping import FaultReporter

#: One per process, so a fault repeating every cycle is recorded once an hour.
DISPATCHER_FAULTS = FaultReporter("trax.dispatcher_cycle")


@dataclass(frozen=True)
class DispatchCycle:
    """One dispatcher cycle: ``now`` is the database's time at its start."""

    now: datetime
    config: DispatcherConfig
    using: str

    @property
    def faults(self) -> FaultReporter:
        """Where this process's cycles report the steps and rows they skip."""
        return DISPATCHER_FAULTS
