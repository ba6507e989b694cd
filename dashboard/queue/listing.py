"""What the Queue page shows: a page of work entries newest first (paged by id, no OFFSET,
counted up to a cap), each with the run it became; and the background jobs waiting for or held
by a worker, with who claimed them and when their lease expires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.runs import COUNT_CAP
from trax.models import BackgroundJob, WorkQueue

PAGE = 50
#: Background jobs listed at most (they are bounded by the work in flight).
JOBS_SHOWN = 100


@dataclass(frozen=True)
class QueuePage:
    """A page of entries and where the next one starts."""

    entries: list[WorkQueue]
    older_than: int | None
    matching: int
    capped: bool


@dataclass(frozen=True)
class JobRow:
    """A background job and whether its claim's lease ran out."""

    job: BackgroundJob
    expired: bool


@dataclass(frozen=True)
class Jobs:
    """The background jobs shown, oldest first, and how many there are (capped)."""

    rows: list[JobRow]
    total: int
    capped: bool


def queue_page(matched: Any, *, before: int | None) -> QueuePage:
    """The ``PAGE`` newest entries of ``matched`` older than entry ``before``."""
    entries = matched.select_related("manifest", "metadata").order_by("-id")
    if before is not None:
        entries = entries.filter(id__lt=before)
    found = list(entries[: PAGE + 1])
    more = len(found) > PAGE
    found = found[:PAGE]
    matching = matched.order_by().values("pk")[: COUNT_CAP + 1].count()
    return QueuePage(
        entries=found,
        older_than=found[-1].pk if more and found else None,
        matching=min(matching, COUNT_CAP),
        capped=matching > COUNT_CAP,
    )


def background_jobs(jobs: Any, *, now: datetime) -> Jobs:
    """The first :data:`JOBS_SHOWN` of ``jobs`` by id, each marked when its lease expired."""
    found = list(jobs.select_related("metadata").order_by("id")[:JOBS_SHOWN])
    total = jobs.order_by().values("pk")[: COUNT_CAP + 1].count()
    rows = [
        JobRow(
            job,
            expired=job.claimed_by is not None
            and job.lease_expires_at is not None
            and job.lease_expires_at <= now,
        )
        for job in found
    ]
    return Jobs(rows=rows, total=min(total, COUNT_CAP), capped=total > COUNT_CAP)
