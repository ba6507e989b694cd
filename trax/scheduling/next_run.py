"""When a manifest runs next: its first run, the run after a queued occurrence, and misfires."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from trax.models import Manifest, MisfirePolicy, ScheduleType
from trax.scheduling.schedules import next_cron_time, next_interval_slot

SCHEDULE_FIELDS = ("schedule_type", "interval_seconds", "cron_expression", "timezone", "run_at")
TIMED_TYPES = (ScheduleType.INTERVAL, ScheduleType.CRON, ScheduleType.ONCE)


def first_run_at(manifest: Manifest, now: datetime) -> datetime | None:
    """Interval: at once. Cron: its next match. Once: its time. Others: never by the clock."""
    if manifest.schedule_type == ScheduleType.INTERVAL:
        return now
    if manifest.schedule_type == ScheduleType.CRON:
        return next_cron_time(manifest.cron_expression, manifest.timezone, now)
    if manifest.schedule_type == ScheduleType.ONCE:
        return manifest.run_at
    return None


def schedule_changed(before: Manifest | None, after: Manifest) -> bool:
    """Whether a field that defines when the manifest runs differs (a plain re-save is not)."""
    return before is None or any(
        getattr(before, name) != getattr(after, name) for name in SCHEDULE_FIELDS
    )


def refresh_next_run_at(before: Manifest | None, after: Manifest, now: datetime) -> None:
    """Compute ``next_run_at`` when it is unset or the schedule changed; never otherwise, so a
    restart or re-sync never pushes a due run back."""
    if after.next_run_at is None or schedule_changed(before, after):
        after.next_run_at = first_run_at(after, now)


@dataclass(frozen=True)
class OccurrenceDecision:
    """What to do with a due occurrence: fire it (or skip it) and when the schedule moves to."""

    fire: bool
    next_run_at: datetime | None


def decide_occurrence(
    manifest: Manifest,
    now: datetime,
    *,
    default_threshold_seconds: float,
    rng: random.Random | None = None,
) -> OccurrenceDecision:
    """A due occurrence fires, once, unless it was missed by more than the misfire threshold
    under ``do_nothing``, which skips to the next slot. Never once per missed slot."""
    assert manifest.next_run_at is not None
    threshold = (
        manifest.misfire_threshold_seconds
        if manifest.misfire_threshold_seconds is not None
        else default_threshold_seconds
    )
    missed = (now - manifest.next_run_at).total_seconds() > threshold
    fire = not (missed and manifest.misfire_policy == MisfirePolicy.DO_NOTHING)
    return OccurrenceDecision(fire, _following(manifest, now, fire=fire, rng=rng))


def _following(
    manifest: Manifest, now: datetime, *, fire: bool, rng: random.Random | None
) -> datetime | None:
    if manifest.schedule_type == ScheduleType.ONCE:
        return None
    if manifest.schedule_type == ScheduleType.CRON:
        following = next_cron_time(manifest.cron_expression, manifest.timezone, now)
    elif fire:
        following = now + timedelta(seconds=manifest.interval_seconds or 0)
    else:  # skipping: stay on the interval's grid instead of drifting
        assert manifest.next_run_at is not None
        following = next_interval_slot(manifest.next_run_at, manifest.interval_seconds or 1, now)
    if manifest.variance_seconds:
        following += timedelta(seconds=(rng or random).uniform(0, manifest.variance_seconds))
    return following
