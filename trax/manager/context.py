"""What every manager step receives: the cycle's time, configuration and connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from trax.manager.config import ManagerConfig


@dataclass(frozen=True)
class Cycle:
    """One manager cycle: ``now`` is the database's time at its start, injected in tests."""

    now: datetime
    config: ManagerConfig
    using: str
