"""``/metrics``: who may read it, the cluster gauges it reads from the database, and the
process's own counters after runs in this process (real worker processes:
tests/integration/test_metrics.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

import trax
from project.trains import PaymentDeclined
from trax.manager.service import MANAGER_LEASE
from trax.metrics.process import process_metrics
from trax.models import DeadLetter, Manifest, Metadata, TrainState, Worker, WorkerKind, WorkQueue
from trax.scheduling.schedules import Every
from trax.store import leader_acquire, worker_register
from trax.testing import drain

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-scrape-token"


@pytest.fixture(autouse=True)
def fresh_readings(settings: Any, monkeypatch: Any) -> None:
    """No cache between scrapes, and a scraper token in the environment."""
    from trax.conf import forget_runtime_settings

    settings.TRAX = {**getattr(settings, "TRAX", {}), "METRICS_CACHE_SECONDS": 0}
    forget_runtime_settings()
    monkeypatch.setenv("TRAX_METRICS_TOKEN", TOKEN)


def scrape(client: Client, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], metric: str, **labels: str) -> float:
    return samples.get((metric, tuple(sorted(labels.items()))), 0.0)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ── who may read it ──────────────────────────────────────────────────────────────────────────


def test_a_scraper_with_the_token_reads_it(client: Client) -> None:
    samples = scrape(client, **bearer(TOKEN))
    assert ("trax_runs_in_progress", ()) in samples


def test_anonymous_gets_401_with_a_bearer_challenge(client: Client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="trax metrics"'
    assert b"log in as staff" in response.content
    assert b"trax_" not in response.content


@pytest.mark.parametrize(
    "header",
    ["Bearer wrong", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x", ""],
)
def test_a_wrong_token_gets_401(client: Client, header: str) -> None:
    response = client.get("/metrics", headers={"Authorization": header})
    assert response.status_code == 401
    assert b"trax_" not in response.content


def test_no_token_configured_refuses_every_bearer(client: Client, monkeypatch: Any) -> None:
    monkeypatch.delenv("TRAX_METRICS_TOKEN")
    response = client.get("/metrics", headers=bearer(""))
    assert response.status_code == 401
    assert b"no metrics token is configured ($TRAX_METRICS_TOKEN)" in response.content


def test_the_token_variable_is_a_setting(client: Client, settings: Any, monkeypatch: Any) -> None:
    settings.TRAX = {**settings.TRAX, "METRICS_TOKEN_ENV": "SCRAPE_TOKEN"}
    monkeypatch.setenv("SCRAPE_TOKEN", "other")
    assert client.get("/metrics", headers=bearer("other")).status_code == 200
    assert client.get("/metrics", headers=bearer(TOKEN)).status_code == 401


def test_staff_read_it_and_other_users_get_403(client: Client) -> None:
    users = get_user_model().objects
    client.force_login(users.create_user("staff", password="x", is_staff=True))
    assert client.get("/metrics").status_code == 200

    client.force_login(users.create_user("someone", password="x"))
    response = client.get("/metrics")
    assert response.status_code == 403
    assert b"trax_" not in response.content


def test_only_get_and_head(client: Client) -> None:
    assert client.post("/metrics", headers=bearer(TOKEN)).status_code == 405
    assert client.head("/metrics", headers=bearer(TOKEN)).status_code == 200


# ── the cluster gauges ───────────────────────────────────────────────────────────────────────


def test_the_cluster_gauges_read_the_database(client: Client, settings: Any) -> None:
    settings.TRAX = {**settings.TRAX, "DIRECT_DISPATCH": False}
    assert leader_acquire(MANAGER_LEASE, "web-1:1:s", lease_seconds=60, using="default")
    worker_register(
        worker_id="w1", host="h", pid=1, kind=WorkerKind.WORKER, concurrency=4, using="default"
    )
    worker_register(
        worker_id="s1", host="h", pid=2, kind=WorkerKind.SCHEDULER, concurrency=4, using="default"
    )
    Worker.objects.filter(worker_id="w1").update(runs_in_flight=3)
    Worker.objects.filter(worker_id="s1").update(runs_in_flight=1)
    trax.scheduler.schedule(
        "billing", "demo.greet", {"name": "Ada"}, Every.minutes(5), group="payments"
    )
    trax.scheduler.trigger("billing")
    trax.enqueue("demo.greet", {"name": "one-off"})
    trax.enqueue("demo.greet", {"name": "one-off too"})
    WorkQueue.objects.filter(manifest__isnull=True).update(
        created_at=timezone.now() - timedelta(seconds=90)
    )
    manifest = Manifest.objects.get(external_id="billing")
    DeadLetter.objects.create(manifest=manifest, reason="retries exhausted", retry_count=3)
    running = trax.run("demo.greet", {"name": "x"})
    assert running is not None
    Metadata.objects.filter(name="demo.greet").update(train_state=TrainState.IN_PROGRESS)

    samples = scrape(client, **bearer(TOKEN))

    assert value(samples, "trax_queue_depth", group="payments") == 1
    assert value(samples, "trax_queue_depth", group="") == 2
    assert 89 <= value(samples, "trax_queue_oldest_age_seconds") <= 100
    assert value(samples, "trax_runs_in_progress") == 1
    assert value(samples, "trax_worker_up", kind="worker") == 1
    assert value(samples, "trax_worker_up", kind="scheduler") == 1
    assert value(samples, "trax_worker_up", kind="web") == 0
    assert value(samples, "trax_worker_busy_ratio") == 0.5
    assert value(samples, "trax_leader", name="manager") == 1
    assert value(samples, "trax_dead_letters_awaiting") == 1


def test_with_nothing_there_the_gauges_are_zero_and_no_leader(client: Client) -> None:
    samples = scrape(client, **bearer(TOKEN))
    assert value(samples, "trax_leader", name="manager") == 0
    assert value(samples, "trax_worker_busy_ratio") == 0
    assert value(samples, "trax_queue_oldest_age_seconds") == 0
    assert not [key for key in samples if key[0] == "trax_queue_depth"]


def test_the_gauges_are_cached_for_metrics_cache_seconds(client: Client, settings: Any) -> None:
    settings.TRAX = {**settings.TRAX, "METRICS_CACHE_SECONDS": 3600}
    first = scrape(client, **bearer(TOKEN))
    assert leader_acquire(MANAGER_LEASE, "s", lease_seconds=60, using="default")
    cached = scrape(client, **bearer(TOKEN))
    assert value(cached, "trax_leader", name="manager") == value(
        first, "trax_leader", name="manager"
    )

    from trax.metrics import views

    for registry in views._registries.values():
        for collector in list(registry._collector_to_names):
            collector.forget()
    assert value(scrape(client, **bearer(TOKEN)), "trax_leader", name="manager") == 1


# ── this process's counters ──────────────────────────────────────────────────────────────────


def test_runs_in_this_process_are_counted_by_train_and_outcome(client: Client) -> None:
    before = scrape(client, **bearer(TOKEN))

    trax.run("demo.greet", {"name": "Ada"})
    trax.run("demo.greet", {"name": "Bo"})
    with pytest.raises(PaymentDeclined):
        trax.run("demo.always_fails", {"name": "Cy"})

    after = scrape(client, **bearer(TOKEN))

    def grew(metric: str, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    assert grew("trax_runs_started_total", train="demo.greet") == 2
    assert grew("trax_runs_started_total", train="demo.always_fails") == 1
    assert grew("trax_runs_finished_total", train="demo.greet", outcome="completed") == 2
    assert grew("trax_runs_finished_total", train="demo.always_fails", outcome="failed") == 1
    assert grew("trax_run_duration_seconds_count", train="demo.greet") == 2
    assert grew("trax_run_duration_seconds_sum", train="demo.greet") > 0
    # trax.run never waited in a queue: no wait is observed for it.
    assert grew("trax_queue_wait_seconds_count", train="demo.greet") == 0


def test_metrics_off_counts_nothing(client: Client, settings: Any) -> None:
    from trax.effects.from_settings import reset_default_service

    before = scrape(client, **bearer(TOKEN))
    settings.TRAX = {**settings.TRAX, "METRICS": False}
    reset_default_service()

    trax.run("demo.greet", {"name": "Ada"})

    after = scrape(client, **bearer(TOKEN))
    key = ("trax_runs_started_total", (("train", "demo.greet"),))
    assert after.get(key, 0) == before.get(key, 0)


def test_no_label_carries_a_run_id_or_an_input(client: Client) -> None:
    trax.run("demo.greet", {"name": "secret-input"})
    body = client.get("/metrics", headers=bearer(TOKEN)).content.decode()
    run_id = str(Metadata.objects.latest("pk").pk)
    assert "secret-input" not in body
    trax_samples = [
        sample
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name.startswith("trax_")
    ]
    assert trax_samples
    for sample in trax_samples:
        assert run_id not in sample.labels.values()
        assert set(sample.labels) <= {"train", "outcome", "group", "kind", "name", "le"}


def test_every_metric_the_docs_and_the_grafana_board_name_is_served(client: Client) -> None:
    docs = Path(__file__).resolve().parents[3] / "docs"
    trax.enqueue("demo.greet", {"name": "Ada"})
    drain()
    families = list(
        text_string_to_metric_families(
            client.get("/metrics", headers=bearer(TOKEN)).content.decode()
        )
    )
    served = {family.name for family in families} | {
        sample.name for family in families for sample in family.samples
    }
    metrics = process_metrics()
    assert metrics is not None
    metrics.retries_queued(0)
    named = set(re.findall(r"trax_[a-z_]+", (docs / "grafana-dashboard.json").read_text()))
    table = set(
        re.findall(
            r"^\| `(trax_[a-z_]+)` \| (?:counter|gauge|histogram) ",
            (docs / "monitoring.md").read_text(),
            re.M,
        )
    )
    assert table, "the metric table of docs/monitoring.md is gone"
    for name in named | table:
        assert name in served or f"{name}_count" in served, name
