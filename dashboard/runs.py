"""The runs list: searched (``dashboard.search``), newest first, paged by key (``before`` the
last id shown: no OFFSET), counted only up to a cap (no exact count over a big table)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trax.models import Metadata

PAGE = 50
#: Counts stop here and show "10,000+".
COUNT_CAP = 10_000


@dataclass(frozen=True)
class RunsPage:
    """One page of runs and where the next one starts."""

    runs: tuple[Metadata, ...]
    older_than: int | None  # the id to page on from; None on the last page
    matching: int  # capped at COUNT_CAP + 1
    capped: bool


def runs_page(matched: Any, *, before: int | None) -> RunsPage:
    """The ``PAGE`` newest of ``matched`` older than run ``before`` (all when None)."""
    rows = matched.order_by("-id").only(
        "id",
        "name",
        "train_state",
        "created_at",
        "start_time",
        "end_time",
        "host_name",
        "currently_running_junction",
        "junction_started_at",
        "failure_exception",
        "attempt",
    )
    if before is not None:
        rows = rows.filter(id__lt=before)
    found = list(rows[: PAGE + 1])
    matching = matched.order_by()[: COUNT_CAP + 1].count()
    more = len(found) > PAGE
    page = tuple(found[:PAGE])
    return RunsPage(
        runs=page,
        older_than=page[-1].pk if more and page else None,
        matching=min(matching, COUNT_CAP),
        capped=matching > COUNT_CAP,
    )
