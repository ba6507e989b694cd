"""The runs page's action on all matching runs: cancel (needs ``trax.cancel_run``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from dashboard.bulk.actions import BulkAction, register
from dashboard.search import parse_search
from trax.api import UnknownRunError, cancel_run
from trax.models import ACTIVE_STATES, Metadata
from trax.store import run_records_alias


def active_matching(text: str) -> QuerySet[Any]:
    """The pending and running runs the runs page's search ``text`` matches (only those can
    be cancelled)."""
    runs = Metadata.objects.using(run_records_alias()).filter(train_state__in=ACTIVE_STATES)
    return parse_search(text).apply(runs)


def cancel_runs(ids: list[int], actor: str, params: Mapping[str, str]) -> int:
    """Cancel each run and its children; returns how many runs were stopped."""
    stopped = 0
    for run_id in ids:
        try:
            stopped += cancel_run(run_id)
        except UnknownRunError:  # deleted since it matched
            continue
    return stopped


CANCEL = register(
    BulkAction(
        page="runs",
        name="cancel",
        label="Cancel",
        permission="trax.cancel_run",
        matching=active_matching,
        apply=cancel_runs,
    )
)
