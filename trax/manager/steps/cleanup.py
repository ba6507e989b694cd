"""Step: delete finished runs past their retention and resolved dead letters past theirs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from trax.manager.context import Cycle
from trax.models import DeadLetter, DeadLetterStatus
from trax.store import dead_letter_purge_resolved, metadata_delete_finished


@dataclass(frozen=True)
class CleanedUp:
    runs: int
    dead_letters: int
    work_entries: int = 0


def clean_up(cycle: Cycle) -> CleanedUp:
    """Runs go with their logs and child runs, in batches; a run an awaiting dead letter points
    at is kept. Both retentions can be switched off (None); run retention is off by default."""
    config = cycle.config
    runs = 0
    if config.metadata_retention_seconds is not None:
        keep = list(
            DeadLetter.objects.using(cycle.using)
            .filter(status=DeadLetterStatus.AWAITING_INTERVENTION, last_failed_run__isnull=False)
            .values_list("last_failed_run_id", flat=True)
        )
        runs = metadata_delete_finished(
            cycle.now - timedelta(seconds=config.metadata_retention_seconds),
            exclude_ids=keep,
            using=cycle.using,
        )
    letters = 0
    if config.dead_letter_retention_seconds is not None:
        letters = dead_letter_purge_resolved(
            cycle.now - timedelta(seconds=config.dead_letter_retention_seconds),
            using=cycle.using,
        )
    return CleanedUp(runs=runs, dead_letters=letters)
