"""Cancelling a run tree: flag it in the database (every process sees it) and fire the tokens of
the runs executing in this process at once."""

from __future__ import annotations

from trax.effects import local_tokens
from trax.models import CancelReason
from trax.store import CancelRequestResult, metadata_request_cancel


def cancel_run_tree(metadata_id: int, *, reason: CancelReason, using: str) -> CancelRequestResult:
    """Request the cancellation of a run and its descendants (see ``metadata_request_cancel``)
    and interrupt those running here without waiting for a notification."""
    result = metadata_request_cancel(metadata_id, reason=reason, using=using)
    local_tokens.fire(list(result.run_ids), reason)
    return result
