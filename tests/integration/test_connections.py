"""A worker's connections do not grow with its concurrency (issue 8 #2): sixteen run threads
whose trains all use the database hold no more than the worker's fixed few plus the pool of
``default``, measured on PostgreSQL while every run is in flight."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

import trax
from tests.integration.conftest import Children, release, starts_of, wait_for, work
from trax.checks import HELD_BY_A_WORKER
from trax.models import Metadata, TrainState

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

CONCURRENCY = 16
POOL = 3
#: The LISTEN sessions of the claim loop and the cancel watcher: connections of their own.
LISTENERS = 2


def sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_type = 'client backend'"
        )
        return int(cursor.fetchone()[0])


def test_sixteen_run_threads_using_the_database_hold_a_bounded_number_of_connections(
    children: Children, work_dir: Path
) -> None:
    children.env = {**children.env, "DB_POOL_MAX_SIZE": str(POOL)}
    baseline = sessions()
    worker = children.worker("--concurrency", str(CONCURRENCY))
    keys = [f"q{i}" for i in range(CONCURRENCY)]
    trax.enqueue_many("it.query_block", [work(work_dir, key) for key in keys])

    peak = 0

    def pool_in_use() -> bool:
        nonlocal peak
        peak = max(peak, sessions() - baseline)
        started = {start.key for key in keys for start in starts_of(work_dir, key)}
        return len(started) >= POOL

    wait_for(pool_in_use, "runs holding every pooled connection", limit=60)
    for key in keys:
        release(work_dir, key)

    def all_completed() -> bool:
        nonlocal peak
        peak = max(peak, sessions() - baseline)
        done = Metadata.objects.filter(name="it.query_block", train_state=TrainState.COMPLETED)
        return done.count() == CONCURRENCY

    wait_for(all_completed, f"{CONCURRENCY} runs to complete", limit=90)

    assert worker.alive()
    # Without the bound: one connection of `default` per run thread (16), plus the trax alias.
    assert peak <= HELD_BY_A_WORKER + LISTENERS + POOL, peak
