"""What the Audit page shows: who did what, when, to which object, newest first, paged by id
(no OFFSET), counted up to a cap; a target naming a console object links to it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from dashboard.runs import COUNT_CAP
from trax.models import Audit

PAGE = 50
#: Target kinds with a page of their own -> its URL name.
_LINKS = {"run": "dashboard:run", "manifest": "dashboard:schedule", "bulk": "dashboard:bulk"}


@dataclass(frozen=True)
class AuditRow:
    """One audit row, its detail as indented JSON and its target's link (None: no page)."""

    row: Audit
    detail: str
    link: str | None


@dataclass(frozen=True)
class AuditPage:
    """A page of rows and where the next one starts."""

    rows: list[AuditRow]
    older_than: int | None
    matching: int
    capped: bool


def audit_page(matched: Any, *, before: int | None) -> AuditPage:
    """The ``PAGE`` newest rows of ``matched`` older than row ``before``."""
    rows = matched.order_by("-id")
    if before is not None:
        rows = rows.filter(id__lt=before)
    found = list(rows[: PAGE + 1])
    more = len(found) > PAGE
    found = found[:PAGE]
    matching = matched.order_by().values("pk")[: COUNT_CAP + 1].count()
    return AuditPage(
        rows=[
            AuditRow(row, json.dumps(row.detail, indent=1, sort_keys=True), target_link(row.target))
            for row in found
        ],
        older_than=found[-1].pk if more and found else None,
        matching=min(matching, COUNT_CAP),
        capped=matching > COUNT_CAP,
    )


def target_link(target: str) -> str | None:
    """The console page of ``kind:id`` targets that have one (runs, schedules, bulk
    operations); None for the rest."""
    kind, colon, key = target.partition(":")
    if not colon or not (key.isascii() and key.isdigit() and len(key) <= 18):
        return None
    if kind in _LINKS:
        return reverse(_LINKS[kind], args=[int(key)])
    return None
