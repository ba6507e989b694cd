"""What the schedules pages show of each manifest: its schedule in words, its newest run, its
failure streak, its active runs; read in a fixed number of queries per page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet

from dashboard.schedules.describe import describe_schedule
from trax.models import (
    ACTIVE_STATES,
    DeadLetter,
    DeadLetterStatus,
    Manifest,
    Metadata,
    WorkQueue,
    WorkQueueStatus,
)
from trax.store import metadata_counted_failures

#: Manifests a page of the list shows; the next page follows by name (never OFFSET).
PAGE_SIZE = 100


@dataclass(frozen=True)
class ScheduleRow:
    """One manifest as the list shows it."""

    manifest: Manifest
    words: str
    last_run: Metadata | None
    streak: int
    active: int
    blocked: bool


@dataclass(frozen=True)
class SchedulePage:
    """A page of the list and the key of the next one (None: the last page)."""

    rows: list[ScheduleRow]
    after: str | None


def words_of(manifest: Manifest) -> str:
    """``manifest``'s schedule in words."""
    parent = manifest.depends_on.external_id if manifest.depends_on is not None else None
    return describe_schedule(
        manifest.schedule_type,
        interval_seconds=manifest.interval_seconds,
        cron_expression=manifest.cron_expression,
        timezone=manifest.timezone,
        run_at=manifest.run_at,
        parent=parent,
    )


def schedules_page(matched: QuerySet[Any], *, after: str | None, using: str) -> SchedulePage:
    """The manifests of ``matched`` (annotated by the search) after the name ``after``."""
    manifests = matched.select_related("group", "depends_on").order_by("external_id")
    if after:
        manifests = manifests.filter(external_id__gt=after)
    found = list(manifests[: PAGE_SIZE + 1])
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    return SchedulePage(rows(found, using=using), found[-1].external_id if more else None)


def rows(manifests: list[Manifest], *, using: str) -> list[ScheduleRow]:
    """The list's rows for ``manifests`` (annotated with ``last_run_id`` and ``blocked``)."""
    ids = [m.pk for m in manifests]
    last_ids = [m.last_run_id for m in manifests if getattr(m, "last_run_id", None)]  # type: ignore[attr-defined]
    last_runs = Metadata.objects.using(using).in_bulk(last_ids)
    streaks = _per_manifest(metadata_counted_failures(using).filter(manifest_id__in=ids))
    active = _per_manifest(
        Metadata.objects.using(using).filter(manifest_id__in=ids, train_state__in=ACTIVE_STATES)
    )
    return [
        ScheduleRow(
            manifest=m,
            words=words_of(m),
            last_run=last_runs.get(getattr(m, "last_run_id", None) or 0),
            streak=streaks.get(m.pk, 0),
            active=active.get(m.pk, 0),
            blocked=bool(getattr(m, "blocked", False)),
        )
        for m in manifests
    ]


def _per_manifest(runs: QuerySet[Any]) -> dict[int, int]:
    return dict(
        runs.order_by()
        .values_list("manifest_id")
        .annotate(n=Count("id"))
        .values_list("manifest_id", "n")
    )


@dataclass(frozen=True)
class ScheduleDetail:
    """One manifest: its row, newest runs, queued entry, awaiting dead letter, dependents."""

    row: ScheduleRow
    runs: list[Metadata]
    queued: WorkQueue | None
    dead_letter: DeadLetter | None
    dependents: list[Manifest]
    input_json: str


def schedule_detail(manifest: Manifest, *, using: str) -> ScheduleDetail:
    """What the schedule's own page shows (``manifest`` annotated by the search)."""
    runs = list(Metadata.objects.using(using).filter(manifest=manifest).order_by("-id")[:20])
    return ScheduleDetail(
        row=rows([manifest], using=using)[0],
        runs=runs,
        queued=WorkQueue.objects.using(using)
        .filter(manifest=manifest, status=WorkQueueStatus.QUEUED)
        .first(),
        dead_letter=DeadLetter.objects.using(using)
        .filter(manifest=manifest, status=DeadLetterStatus.AWAITING_INTERVENTION)
        .first(),
        dependents=list(
            Manifest.objects.using(using).filter(depends_on=manifest).order_by("external_id")
        ),
        input_json=json.dumps(manifest.input, indent=2, ensure_ascii=False),
    )
