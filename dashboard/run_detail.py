"""What the run page shows: the state timeline, the pipeline (the train's junctions in order,
each done, failed, cancelled, running or skipped, with its duration from the run's recorded
timings), and the run's lineage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q

from trax.models import Log, Metadata, TrainState, WorkQueue
from trax.registry import UnknownTrainError, registry

#: Log records shown on the page (the admin lists them all).
LOG_LIMIT = 200


@dataclass(frozen=True)
class Step:
    """One junction of the pipeline as this run met it."""

    name: str
    status: str  # completed, failed, cancelled, running, waiting (not reached yet), skipped
    duration: float | None
    ticking: bool = False  # running: ``duration`` is the time so far, and it goes on


@dataclass(frozen=True)
class Moment:
    """A point of the state timeline and how long after the previous one it came."""

    label: str
    at: datetime | None
    after: float | None


@dataclass(frozen=True)
class RunDetail:
    run: Metadata
    timeline: tuple[Moment, ...]
    pipeline: tuple[Step, ...]
    input_json: str
    output_json: str
    logs: tuple[Log, ...]
    attempts: tuple[Metadata, ...]
    children: tuple[Metadata, ...]
    entry: WorkQueue | None
    dependents: tuple[WorkQueue, ...] = ()
    """Work its success queued for the schedules that run after its own."""


def run_detail(run: Metadata, *, using: str, now: datetime) -> RunDetail:
    """Everything the run page shows of ``run`` (``now``: the database's clock, for what is
    still running)."""
    entry = (
        WorkQueue.objects.using(using).filter(id=run.work_queue_id).first()
        if run.work_queue_id
        else None
    )
    origin = (entry.origin_id or entry.pk) if entry else None
    attempts = (
        Metadata.objects.using(using)
        .filter(Q(work_queue_id=origin) | Q(work_queue__origin_id=origin))
        .only("id", "name", "train_state", "attempt", "start_time", "end_time")
        .order_by("id")
        if origin
        else Metadata.objects.none()
    )
    return RunDetail(
        run=run,
        timeline=_timeline(run),
        pipeline=_pipeline(run, now),
        input_json=_pretty(run.input),
        output_json=_pretty(run.output),
        logs=tuple(Log.objects.using(using).filter(metadata_id=run.pk).order_by("id")[:LOG_LIMIT]),
        attempts=tuple(attempts),
        children=tuple(
            Metadata.objects.using(using)
            .filter(parent_id=run.pk)
            .only("id", "name", "train_state")
            .order_by("id")
        ),
        entry=entry,
        dependents=_dependents(run, using),
    )


def _dependents(run: Metadata, using: str) -> tuple[WorkQueue, ...]:
    """Entries queued for schedules depending on the run's own, stamped with this success."""
    if run.manifest_id is None or run.train_state != TrainState.COMPLETED or not run.end_time:
        return ()
    return tuple(
        WorkQueue.objects.using(using)
        .filter(manifest__depends_on_id=run.manifest_id, parent_success_stamp=run.end_time)
        .select_related("manifest")
        .order_by("id")
    )


def _pretty(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, sort_keys=True)


def _timeline(run: Metadata) -> tuple[Moment, ...]:
    points = [
        ("scheduled", run.scheduled_time),
        ("queued", run.created_at),
        ("started", run.start_time),
        ("ended", run.end_time),
    ]
    moments: list[Moment] = []
    previous: datetime | None = None
    for label, at in points:
        if at is None:
            continue
        after = (at - previous).total_seconds() if previous is not None else None
        moments.append(Moment(label, at, after))
        previous = at
    return tuple(moments)


def _pipeline(run: Metadata, now: datetime) -> tuple[Step, ...]:
    """The recorded junctions, then the train's remaining ones: skipped once the run ended.
    While it runs (timings are written at the end) the junctions before the one it is in are
    done, that one runs, the rest wait. A train this process does not have shows only what was
    recorded."""
    try:
        declared = [spec.name for spec in registry.get(run.name).specs]
    except UnknownTrainError:
        declared = []
    if run.train_state == TrainState.IN_PROGRESS and not run.junction_timings:
        return _in_progress(run, declared, now)
    recorded = [item for item in (run.junction_timings or []) if "name" in item]
    steps = [
        Step(item["name"], item.get("outcome", "completed"), _duration(item)) for item in recorded
    ]
    reached = len(steps)
    for index, name in enumerate(declared[reached:], start=reached):
        if run.train_state == TrainState.IN_PROGRESS and (
            name == run.currently_running_junction or (index == reached and not steps)
        ):
            steps.append(Step(name, "running", None))
        else:
            steps.append(Step(name, "skipped", None))
    return tuple(steps)


def _in_progress(run: Metadata, declared: list[str], now: datetime) -> tuple[Step, ...]:
    current = run.currently_running_junction
    if not declared:
        declared = [current] if current else []
    at = declared.index(current) if current in declared else 0
    since = run.junction_started_at if current else run.start_time
    running_for = max((now - since).total_seconds(), 0.0) if since is not None else None
    return (
        *(Step(name, "completed", None) for name in declared[:at]),
        *(Step(name, "running", running_for, ticking=True) for name in declared[at : at + 1]),
        *(Step(name, "waiting", None) for name in declared[at + 1 :]),
    )


def _duration(item: dict[str, Any]) -> float | None:
    started, ended = item.get("started_at"), item.get("ended_at")
    if isinstance(started, int | float) and isinstance(ended, int | float):
        return max(float(ended) - float(started), 0.0)
    return None
