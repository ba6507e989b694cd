"""Step: fold the runs finished since the last cycle into the per-minute and per-hour rollups
the console and metrics read (docs/rollups.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from trax.manager.context import Cycle
from trax.store import rollup_fold


@dataclass(frozen=True)
class FoldedRuns:
    runs: int


def fold_rollups(cycle: Cycle) -> FoldedRuns:
    """Each finished run once, into its buckets; see ``rollup_fold`` for how a run committed
    late is still counted. The very first fold starts at the rollups' retention (older buckets
    would be deleted at once), and runs past the minute retention enter only hour buckets."""
    config = cycle.config
    folded = rollup_fold(
        start_after=_ago(cycle.now, config.rollup_retention_seconds),
        minute_since=_ago(cycle.now, config.rollup_minute_retention_seconds),
        settle_seconds=config.rollup_settle_seconds,
        using=cycle.using,
    )
    return FoldedRuns(runs=folded.runs)


def _ago(now: datetime, seconds: float | None) -> datetime | None:
    return None if seconds is None else now - timedelta(seconds=seconds)
