"""Step: retire finished work past its retention (lineages of work entries with their runs and
logs) and resolved dead letters past theirs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from trax.manager.context import Cycle
from trax.store import Retired, dead_letter_purge_resolved, retention_delete_finished


@dataclass(frozen=True)
class CleanedUp:
    runs: int
    dead_letters: int
    work_entries: int = 0


def clean_up(cycle: Cycle) -> CleanedUp:
    """Work entries go with their runs, the runs with their logs and child runs, in bounded
    batches; see ``retention_delete_finished`` for what is kept. Both retentions can be
    switched off (None)."""
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
    return CleanedUp(runs=retired.runs, dead_letters=letters, work_entries=retired.work_entries)
