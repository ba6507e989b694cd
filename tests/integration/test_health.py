"""``manage.py trax_health`` as a probe runs it: a separate process that exits 0 while a real
scheduler leads and its workers beat, and 1 naming the leader and the workers once that
scheduler is SIGKILLed and its leases run out."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.integration.conftest import (
    FAST,
    MANAGE,
    Children,
    wait_for,
    wait_until_leading,
    wait_until_worker_ready,
)
from trax.metrics.health import HealthThresholds, check_health

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("quiet_demo_schedules"),
]

#: The probe judges staleness with the children's lease (1 s), as it would in their cluster.
THRESHOLDS = HealthThresholds(worker_stale_seconds=FAST["LEASE_SECONDS"])


def probe(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, MANAGE, "trax_health", "--json"],
        env={**env, "TRAX_SETTINGS_JSON": json.dumps(FAST)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout)


def test_healthy_while_a_scheduler_leads_and_unhealthy_once_it_is_killed(
    children: Children, child_process_env: dict[str, str]
) -> None:
    scheduler = children.scheduler("--concurrency", "2")
    wait_until_leading(scheduler)
    wait_until_worker_ready(scheduler)

    code, report = probe(child_process_env)
    assert code == 0, report
    assert report["healthy"] is True
    assert str(scheduler.pid) in report["checks"]["leader"]["value"]
    assert report["checks"]["workers"]["value"] == 1

    scheduler.kill()
    wait_for(
        lambda: not check_health(THRESHOLDS, using="default").healthy,
        "the killed scheduler's leases to run out",
        limit=30,
    )
    wait_for(
        lambda: (
            {c.name for c in check_health(THRESHOLDS, using="default").failing()}
            == {"leader", "workers"}
        ),
        "both the leader and the workers to fail",
        limit=30,
    )

    code, report = probe(child_process_env)
    assert code == 1
    assert report["healthy"] is False
    assert report["checks"]["leader"]["ok"] is False
    assert report["checks"]["workers"] == {
        "ok": False,
        "value": 0,
        "detail": "0 live worker process(es), at least 1 wanted",
    }
    assert report["checks"]["database"]["ok"] is True
