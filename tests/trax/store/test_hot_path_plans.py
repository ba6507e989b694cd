"""The hot-path statements keep to the primary key whatever the planner's statistics say. A
queue's tables are often analyzed while empty; with those statistics and a backlog, a plainly
written state guard led the planner to scan every pending (or running) run through
``trax_metadata_active_idx`` once per claim or completion batch: cost that grew with the backlog
(the 8x swing between backlog shapes in issue 7)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

import trax
from trax.store.background_jobs.claim import keep_to_indexes
from trax.store.queries import query

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db]

BACKLOG = 3000


def index_scans(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(node type, relation or index) of every scan in a JSON plan."""
    node_type = plan.get("Node Type", "")
    if "Scan" in node_type:
        yield node_type, plan.get("Index Name") or plan.get("Relation Name", "")
    for child in plan.get("Plans", []):
        yield from index_scans(child)


def plan_of(name: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    keep_to_indexes(connection)  # as the claim loop's connection does
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + query("postgresql", name), params)
        (document,) = cursor.fetchone()
    plan = document if isinstance(document, list) else json.loads(document)
    return list(index_scans(plan[0]["Plan"]))


@pytest.fixture
def stale_statistics_and_a_backlog() -> None:
    """Statistics of empty tables (as an ANALYZE of an idle queue leaves them), then a backlog
    of pending runs with their jobs, and a few runs in progress."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE trax_metadata, trax_background_job, trax_work_queue")
    trax.enqueue_many("demo.noop", [{"n": i} for i in range(BACKLOG)])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE trax_metadata SET train_state = 'in_progress' "
            "WHERE id IN (SELECT id FROM trax_metadata ORDER BY id LIMIT 100)"
        )


CLAIM = {
    "limit": 50,
    "worker": "w",
    "token": uuid.uuid4(),
    "lease": 30.0,
    "executor": "x",
    "host_name": "h",
    "host_environment": "",
    "host_instance_id": "",
    "host_labels": "{}",
    "changed": "x",
}


@pytest.mark.usefixtures("stale_statistics_and_a_backlog")
def test_the_claim_reaches_runs_by_their_key() -> None:
    scans = plan_of("background_job_claim", CLAIM)

    assert ("Index Scan", "trax_metadata_pkey") in scans, scans
    assert all(target != "trax_metadata_active_idx" for _, target in scans), scans
    assert ("Index Scan", "trax_background_job_free_idx") in scans, scans


@pytest.mark.usefixtures("stale_statistics_and_a_backlog")
def test_the_completion_reaches_runs_by_their_key() -> None:
    scans = plan_of(
        "background_job_complete",
        {
            "ids": list(range(1, 51)),
            "tokens": [uuid.uuid4() for _ in range(50)],
            "states": ["completed"] * 50,
            "outputs": [None] * 50,
            "junctions": [""] * 50,
            "exceptions": [""] * 50,
            "reasons": [""] * 50,
            "traces": [""] * 50,
            "cancels": [""] * 50,
            "timings": ['[{"name": "sign", "started_at": 0.0, "ended_at": 0.1}]'] * 50,
            "channel": "x",
        },
    )

    assert all(target != "trax_metadata_active_idx" for _, target in scans), scans
    assert all(node != "Seq Scan" or target == "trax_manifest" for node, target in scans), scans
