"""Writer of captured run logs (``trax_log``)."""

from __future__ import annotations

from collections.abc import Sequence

from trax.models import Log
from trax.store.alias import run_records_alias


def log_write_batch(records: Sequence[Log], *, using: str | None = None) -> int:
    """Insert a batch of log rows in one statement; returns how many."""
    if not records:
        return 0
    Log.objects.using(using or run_records_alias()).bulk_create(records)
    return len(records)
