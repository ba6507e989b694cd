"""Step: retire finished work past its retention (lineages of work entries with their runs and
logs), resolved dead letters past theirs, and rollups past theirs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from trax.manager.context import Cycle
from trax.store import (
    Retired,
    dead_letter_purge_resolved,
    retention_delete_finished,
    retention_delete_rollups,
)


@dataclass(frozen=True)
class CleanedUp:
    runs: int
    dead_letters: int
    work_entries: int = 0
    rollups: int = 0


def clean_up(cycle: Cycle) -> CleanedUp:
    """Work entries go with their runs, the runs with their logs and child runs, in bounded
    batches; see ``retention_delete_finished`` for what is kept. Minute and hour rollups go by
    their buckets' age, in batches too. Every retention can be switched off (None)."""
    config = cycle.config
    retired = Retired()
    if config.metadata_retention_seconds is not None:
        retired = retention_delete_finished(
            cycle.now - timedelta(seconds=config.metadata_retention_seconds),
            batch_size=config.cleanup_batch_size,
            using=cycle.using,
        )
    letters = 0
    if config.dead_letter_retention_seconds is not None:
        letters = dead_letter_purge_resolved(
            cycle.now - timedelta(seconds=config.dead_letter_retention_seconds),
            using=cycle.using,
        )
    rollups = retention_delete_rollups(
        _ago(cycle, config.rollup_minute_retention_seconds),
        _ago(cycle, config.rollup_retention_seconds),
        batch_size=config.cleanup_batch_size,
        using=cycle.using,
    )
    return CleanedUp(
        runs=retired.runs,
        dead_letters=letters,
        work_entries=retired.work_entries,
        rollups=rollups,
    )


def _ago(cycle: Cycle, seconds: float | None) -> datetime | None:
    return None if seconds is None else cycle.now - timedelta(seconds=seconds)
