"""Group and global caps hold under concurrency: with three worker processes (9 run threads)
hungry for work, a group capped at 2 never has more than 2 active runs and the whole system
never more than ``MAX_ACTIVE_JOBS`` = 5 (active = pending + in progress)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

import trax
from tests.integration.conftest import (
    Children,
    wait_for,
    wait_until_leading,
    wait_until_worker_ready,
    work,
)
from trax.models import BackgroundJob, Metadata, TrainState, WorkQueue

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

GROUP_CAP, GLOBAL_CAP = 2, 5
GROUPED = OTHERS = 20
#: Caps, not crash recovery, are under test: a lease that outlives a busy machine's hiccups
#: (and the one-second deadlock waits of test_fencing's heartbeat/completion bug).
SETTINGS = {"MAX_ACTIVE_JOBS": GLOBAL_CAP, "LEASE_SECONDS": 10, "HEARTBEAT_INTERVAL_SECONDS": 0.5}

ACTIVE_SQL = """
SELECT count(*) FILTER (WHERE g.name = 'it-capped'), count(*)
FROM trax_metadata m
LEFT JOIN trax_manifest mf ON mf.id = m.manifest_id
LEFT JOIN trax_manifest_group g ON g.id = mf.group_id
WHERE m.train_state IN ('pending', 'in_progress') AND m.name NOT LIKE 'trax.%%'
"""


def sample() -> tuple[int, int]:
    """Active runs of the capped group and overall, in one snapshot."""
    with connection.cursor() as cursor:
        cursor.execute(ACTIVE_SQL)
        grouped, total = cursor.fetchone()
    return grouped, total


def most_at_once(intervals: list[tuple[object, object]]) -> int:
    """The largest number of [created, ended) intervals that overlap."""
    events = sorted([(end, -1) for _, end in intervals] + [(start, 1) for start, _ in intervals])
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


@pytest.mark.usefixtures("quiet_demo_schedules")
def test_group_and_global_caps_hold_with_three_workers(
    children: Children, work_dir: Path, settings: Any
) -> None:
    # Every process of a deployment shares its settings: this one enqueues under the cap too
    # (an uncapped process would write its one-off work straight to the job queue).
    settings.TRAX = {**getattr(settings, "TRAX", {}), "MAX_ACTIVE_JOBS": GLOBAL_CAP}
    scheduler = children.dispatcher(settings=SETTINGS)
    workers = [
        children.worker("--concurrency", "3", settings=SETTINGS, name=f"worker-{n}")
        for n in range(3)
    ]
    for worker in workers:
        wait_until_worker_ready(worker)
    wait_until_leading(scheduler)

    trax.scheduler.schedule_many(  # due at once: the manager queues them in its next cycle
        "it.sleepy",
        [trax.ManifestItem(str(n), work(work_dir, f"grouped-{n}", 0.3)) for n in range(GROUPED)],
        trax.Every.hours(1),
        name="it-capped",
        group=trax.Group("it-capped", max_active_jobs=GROUP_CAP),
    )
    grouped_entries = WorkQueue.objects.filter(manifest__group__name="it-capped")
    wait_for(lambda: grouped_entries.count() == GROUPED, "the group's runs to be queued")
    # Newer than the group's entries, so they run only in the room the group cap leaves.
    trax.enqueue_many("it.sleepy", [work(work_dir, f"other-{n}", 0.3) for n in range(OTHERS)])

    runs = Metadata.objects.filter(name="it.sleepy")
    samples = []
    deadline = time.monotonic() + 60
    while runs.filter(train_state=TrainState.COMPLETED).count() < GROUPED + OTHERS:
        samples.append(sample())
        assert time.monotonic() < deadline, "the runs did not finish within 60 s"
    grouped_most = max(g for g, _ in samples)
    total_most = max(t for _, t in samples)

    assert grouped_most <= GROUP_CAP, f"the group had {grouped_most} active runs"
    assert total_most <= GLOBAL_CAP, f"{total_most} runs were active"
    # The caps were what held the work back (nine idle run threads), not a lack of work.
    assert grouped_most == GROUP_CAP and total_most == GLOBAL_CAP, samples
    assert (GROUP_CAP, GLOBAL_CAP) in samples, "the group cap held back other work"

    # The same from the records (database timestamps: created before the cap was read again).
    lifetimes = list(runs.values_list("created_at", "end_time", "manifest__group__name"))
    assert most_at_once([(c, e) for c, e, g in lifetimes if g == "it-capped"]) <= GROUP_CAP
    assert most_at_once([(c, e) for c, e, _ in lifetimes]) <= GLOBAL_CAP
    assert runs.count() == GROUPED + OTHERS
    wait_for(lambda: not BackgroundJob.objects.exists(), "the last job rows to go", limit=5)
