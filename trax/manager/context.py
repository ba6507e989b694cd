"""What every manager step receives: the cycle's time, configuration and connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from trax.housekeeping import FaultReporter
from trax.manager.config import ManagerConfig

#: One per process, so a fault repeating every cycle is recorded once an hour.
MANAGER_FAULTS = FaultReporter("trax.manager_cycle")


@dataclass(frozen=True)
class Cycle:
    """One manager cycle: ``now`` is the database's time at its start, injected in tests."""

    now: datetime
    config: ManagerConfig
    using: str

    @property
    def faults(self) -> FaultReporter:
        """Where this process's cycles report the steps and rows they skip."""
        return MANAGER_FAULTS
