"""What an operator does to dead letters — retry (requeue its manifest) and acknowledge with a
note — on one, ticked, or all matching letters. One implementation, the runtime scheduler's (as
the admin's); the caller writes the single audit row."""

from __future__ import annotations

from collections.abc import Mapping

from dashboard.bulk.actions import BulkAction, register
from dashboard.dead_letters.search import awaiting_matching
from dashboard.ticked import checked_note
from trax.models import DeadLetter, DeadLetterStatus
from trax.scheduling.runtime import scheduler

RESOLVE = "trax.resolve_dead_letter"


def still_awaiting(ids: list[int]) -> list[int]:
    """Those of ``ids`` still awaiting a person (another operator may have resolved some)."""
    return sorted(
        DeadLetter.objects.filter(
            id__in=ids, status=DeadLetterStatus.AWAITING_INTERVENTION
        ).values_list("id", flat=True)
    )


def retry(ids: list[int], actor: str, params: Mapping[str, str]) -> int:
    """Requeue each awaiting letter's manifest (a new entry with its input, unless one is
    queued already); the note is optional. Returns how many letters were retried."""
    note = checked_note(params.get("note", ""), required=False, doing="Retrying")
    awaiting = still_awaiting(ids) if ids else []
    if not awaiting:
        return 0
    scheduler.as_actor(actor, audited=False).retry_dead_letters(awaiting, note=note)
    return len(awaiting) - len(still_awaiting(awaiting))


def acknowledge(ids: list[int], actor: str, params: Mapping[str, str]) -> int:
    """Resolve each awaiting letter as acknowledged, with the (required) note; how many."""
    note = checked_note(params.get("note", ""), required=True, doing="Acknowledging")
    awaiting = still_awaiting(ids) if ids else []
    if not awaiting:
        return 0
    return scheduler.as_actor(actor, audited=False).acknowledge_dead_letters(awaiting, note=note)


ACTIONS = {
    action.name: action
    for action in (
        # Retry's note is optional: the all-matching form asks only acknowledge's.
        BulkAction("dead_letters", "retry", "Retry", RESOLVE, awaiting_matching, retry),
        BulkAction(
            "dead_letters",
            "acknowledge",
            "Acknowledge",
            RESOLVE,
            awaiting_matching,
            acknowledge,
            params=("note",),
        ),
    )
}
"""The dead letters page's actions by name."""

for _action in ACTIONS.values():
    register(_action)
