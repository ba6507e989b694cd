"""What an operator does to work entries: cancel the ones still queued (one, ticked, or all
matching; needs ``trax.cancel_run``). Entries already dispatched are runs: the Runs page
cancels those. The caller writes the single audit row."""

from __future__ import annotations

from collections.abc import Mapping

from dashboard.bulk.actions import BulkAction, register
from dashboard.queue.search import queued_matching
from trax.models import WorkQueue, WorkQueueStatus
from trax.store import run_records_alias, work_queue_cancel_queued

CANCEL_PERMISSION = "trax.cancel_run"


def still_queued(ids: list[int]) -> list[int]:
    """Those of ``ids`` still queued."""
    return sorted(
        WorkQueue.objects.using(run_records_alias())
        .filter(id__in=ids, status=WorkQueueStatus.QUEUED)
        .values_list("id", flat=True)
    )


def cancel(ids: list[int], actor: str, params: Mapping[str, str]) -> int:
    """Cancel those of ``ids`` still queued; how many."""
    return work_queue_cancel_queued(ids, using=run_records_alias())


CANCEL = register(
    BulkAction(
        page="queue",
        name="cancel",
        label="Cancel",
        permission=CANCEL_PERMISSION,
        matching=queued_matching,
        apply=cancel,
    )
)
