"""The health checks, the ``trax_health`` command and the health view, on database rows the
store writes (real processes in tests/integration/test_health.py)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

import trax
from trax.manager.service import MANAGER_LEASE
from trax.metrics import health
from trax.metrics.health import HealthThresholds, check_health
from trax.models import DeadLetter, Manifest, WorkerKind, WorkQueue
from trax.scheduling.schedules import Every
from trax.store import leader_acquire, worker_register

pytestmark = pytest.mark.django_db

#: Every limit on, the defaults otherwise.
STRICT = HealthThresholds(max_awaiting_dead_letters=0)


@pytest.fixture
def cluster() -> None:
    """A leading scheduler and one live worker, as a healthy cluster shows them."""
    assert leader_acquire(MANAGER_LEASE, "web-1:1:sched", lease_seconds=60, using="default")
    worker_register(
        worker_id="web-1:2:worker",
        host="web-1",
        pid=2,
        kind=WorkerKind.WORKER,
        concurrency=4,
        using="default",
    )


@pytest.fixture
def queued_later(settings: Any) -> Any:
    """``trax.enqueue`` leaves work queued for the dispatcher."""
    settings.TRAX = {**getattr(settings, "TRAX", {}), "DIRECT_DISPATCH": False}


def outcome(report: health.HealthReport) -> dict[str, bool]:
    return {check.name: check.ok for check in report.checks}


def test_a_cluster_with_a_leader_a_worker_and_nothing_waiting_is_healthy(cluster: None) -> None:
    report = check_health(STRICT, using="default")

    assert report.healthy
    assert outcome(report) == dict.fromkeys(
        ["database", "leader", "workers", "queue_age", "dead_letters"], True
    )
    assert report.as_dict()["checks"]["leader"]["value"] == "web-1:1:sched"
    assert report.as_dict()["checks"]["workers"]["value"] == 1


def test_no_leader_fails_unless_not_required() -> None:
    worker_register(
        worker_id="w", host="h", pid=1, kind=WorkerKind.WORKER, concurrency=1, using="default"
    )

    report = check_health(STRICT, using="default")
    assert not report.healthy
    assert [check.name for check in report.failing()] == ["leader"]
    assert "no scheduler holds the manager lease" in report.failing()[0].detail

    assert check_health(HealthThresholds(require_leader=False), using="default").healthy


def test_an_expired_lease_is_no_leader(cluster: None) -> None:
    from trax.models import Leader

    Leader.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    report = check_health(STRICT, using="default")
    assert outcome(report)["leader"] is False


def test_no_live_worker_fails_and_stale_web_and_idle_processes_do_not_count() -> None:
    assert leader_acquire(MANAGER_LEASE, "s", lease_seconds=60, using="default")
    from trax.models import Worker

    worker_register(
        worker_id="web", host="h", pid=1, kind=WorkerKind.WEB, concurrency=4, using="default"
    )
    worker_register(
        worker_id="sched-no-workers",
        host="h",
        pid=2,
        kind=WorkerKind.SCHEDULER,
        concurrency=0,
        using="default",
    )
    worker_register(
        worker_id="gone", host="h", pid=3, kind=WorkerKind.WORKER, concurrency=4, using="default"
    )
    Worker.objects.filter(worker_id="gone").update(
        last_heartbeat_at=timezone.now() - timedelta(minutes=5)
    )

    report = check_health(STRICT, using="default")

    assert [check.name for check in report.failing()] == ["workers"]
    assert report.failing()[0].value == 0
    assert check_health(HealthThresholds(min_workers=0), using="default").healthy


def test_a_scheduler_with_local_workers_counts_as_a_worker() -> None:
    assert leader_acquire(MANAGER_LEASE, "s", lease_seconds=60, using="default")
    worker_register(
        worker_id="s", host="h", pid=1, kind=WorkerKind.SCHEDULER, concurrency=2, using="default"
    )
    assert check_health(STRICT, using="default").healthy


def test_work_waiting_longer_than_the_limit_fails(cluster: None, queued_later: None) -> None:
    trax.enqueue("demo.greet", {"name": "Ada"})
    WorkQueue.objects.update(created_at=timezone.now() - timedelta(minutes=10))

    report = check_health(STRICT, using="default")

    assert [check.name for check in report.failing()] == ["queue_age"]
    assert 599 <= report.failing()[0].value <= 610
    assert "limit 300 s" in report.failing()[0].detail
    assert check_health(HealthThresholds(max_queue_age_seconds=900), using="default").healthy
    assert check_health(HealthThresholds(max_queue_age_seconds=None), using="default").healthy


def test_work_scheduled_for_later_is_not_late_until_it_is_due(
    cluster: None, queued_later: None
) -> None:
    trax.enqueue("demo.greet", {"name": "Ada"})
    long_ago = timezone.now() - timedelta(hours=2)
    WorkQueue.objects.update(created_at=long_ago, scheduled_at=timezone.now() + timedelta(hours=1))
    assert check_health(STRICT, using="default").healthy

    # Due a minute ago: it has waited a minute, not two hours.
    WorkQueue.objects.update(scheduled_at=timezone.now() - timedelta(minutes=1))
    report = check_health(STRICT, using="default")
    assert report.healthy
    assert 59 <= report.as_dict()["checks"]["queue_age"]["value"] <= 70


def test_dead_letters_awaiting_a_person_fail_only_past_the_limit(cluster: None) -> None:
    manifest = trax.scheduler.schedule("nightly", "demo.greet", {"name": "Ada"}, Every.minutes(5))
    assert isinstance(manifest, Manifest)
    DeadLetter.objects.create(manifest=manifest, reason="retries exhausted", retry_count=3)

    assert check_health(HealthThresholds(), using="default").healthy  # no limit by default
    report = check_health(STRICT, using="default")
    assert [check.name for check in report.failing()] == ["dead_letters"]
    assert report.failing()[0].value == 1
    assert check_health(HealthThresholds(max_awaiting_dead_letters=1), using="default").healthy


def test_a_database_that_does_not_answer_fails_every_check(monkeypatch: Any) -> None:
    def refuse(using: str) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(health, "database_now", refuse)

    report = check_health(STRICT, using="default")

    assert not report.healthy
    assert report.checked_at is None
    assert report.as_dict()["checks"]["database"]["detail"] == "unreachable: connection refused"
    assert {check.name for check in report.failing()} == {
        "database",
        "leader",
        "workers",
        "queue_age",
        "dead_letters",
    }


def test_thresholds_come_from_the_settings(settings: Any) -> None:
    from trax.conf import effective_settings, forget_runtime_settings

    settings.TRAX = {
        **getattr(settings, "TRAX", {}),
        "HEALTH_MAX_QUEUE_AGE_SECONDS": 60,
        "HEALTH_MIN_WORKERS": 3,
        "HEALTH_REQUIRE_LEADER": False,
        "HEALTH_MAX_AWAITING_DEAD_LETTERS": 5,
        "LEASE_SECONDS": 12,
    }
    forget_runtime_settings()

    assert HealthThresholds.from_settings(effective_settings()) == HealthThresholds(
        max_queue_age_seconds=60,
        min_workers=3,
        require_leader=False,
        max_awaiting_dead_letters=5,
        worker_stale_seconds=12,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HEALTH_MAX_QUEUE_AGE_SECONDS", 0),
        ("HEALTH_MIN_WORKERS", -1),
        ("HEALTH_REQUIRE_LEADER", "yes"),
        ("HEALTH_MAX_AWAITING_DEAD_LETTERS", 1.5),
    ],
)
def test_bad_health_settings_are_refused_naming_them(name: str, value: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from trax.conf import TraxSettings

    with pytest.raises(ImproperlyConfigured, match=name):
        TraxSettings({name: value})


# ── the command ──────────────────────────────────────────────────────────────────────────────


def health_command(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("trax_health", *args, stdout=out)
    except SystemExit as exit:
        return int(exit.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_the_command_exits_0_and_lists_every_check_when_healthy(cluster: None) -> None:
    code, text = health_command()
    assert code == 0
    assert text.splitlines()[-1] == "healthy"
    assert [line.split()[1] for line in text.splitlines()[:-1]] == [
        "database",
        "leader",
        "workers",
        "queue_age",
        "dead_letters",
    ]


def test_the_command_exits_1_naming_what_failed() -> None:
    code, text = health_command()
    assert code == 1
    assert "FAIL leader" in text
    assert "FAIL workers" in text
    assert text.splitlines()[-1] == "unhealthy"


def test_the_command_prints_json_and_takes_its_limits_from_flags(queued_later: None) -> None:
    trax.enqueue("demo.greet", {"name": "Ada"})
    WorkQueue.objects.update(created_at=timezone.now() - timedelta(minutes=10))

    code, text = health_command("--json")
    assert code == 1
    report = json.loads(text)
    assert report["healthy"] is False
    assert report["checks"]["queue_age"]["ok"] is False

    code, text = health_command(
        "--json", "--no-leader", "--min-workers", "0", "--max-queue-age", "3600"
    )
    assert code == 0, text
    assert json.loads(text)["healthy"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-workers", "-1"], "'-1' must be 0 or more"),
        (["--max-queue-age", "soon"], "'soon' is not a number"),
        (["--max-dead-letters", "1.5"], "'1.5' is not a number"),
    ],
)
def test_the_command_refuses_bad_limits(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("trax_health", *args)


# ── the view ─────────────────────────────────────────────────────────────────────────────────


def test_the_view_answers_200_with_the_report_when_healthy(cluster: None, client: Client) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    assert response.json()["healthy"] is True
    assert set(response.json()["checks"]) == {
        "database",
        "leader",
        "workers",
        "queue_age",
        "dead_letters",
    }


def test_the_view_answers_503_when_unhealthy_and_head_works(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["leader"]["ok"] is False
    assert client.head("/health").status_code == 503


def test_the_view_refuses_other_methods_and_changes_nothing(client: Client) -> None:
    response = client.post("/health", {"healthy": "true"})
    assert response.status_code == 405


def test_the_view_names_no_run_train_or_input(cluster: None, client: Client) -> None:
    trax.run("demo.greet", {"name": f"secret-{uuid.uuid4()}"})
    body = client.get("/health").content.decode()
    assert "secret-" not in body
    assert "demo.greet" not in body
