"""What every dispatcher step receives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from trax.dispatch.config import DispatcherConfig


@dataclass(frozen=True)
class DispatchCycle:
    """One dispatcher cycle: ``now`` is the database's time at its start."""

    now: datetime
    config: DispatcherConfig
    using: str
