"""Prometheus metrics from real processes: a ``trax_scheduler --metrics-port`` (manager,
dispatcher and local workers) counts the runs it completed, failed, cancelled and retried and
the dead letter it wrote; the web view tells the cluster's gauges from the database."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

import trax
from tests.integration.conftest import (
    Children,
    wait_for,
    wait_until_leading,
    wait_until_worker_ready,
)
from trax.models import DeadLetter, Metadata, TrainState
from trax.scheduling.schedules import Every

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("quiet_demo_schedules"),
]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, metric: str, **labels: str) -> float:
    return samples.get((metric, tuple(sorted(labels.items()))), 0.0)


def states(name: str) -> list[str]:
    return sorted(Metadata.objects.filter(name=name).values_list("train_state", flat=True))


def test_a_scheduler_counts_its_runs_retries_and_dead_letters_on_its_port(
    children: Children, settings: Any
) -> None:
    port = free_port()
    scheduler = children.scheduler(
        "--concurrency", "2", "--metrics-port", str(port), "--metrics-address", "127.0.0.1"
    )
    wait_until_leading(scheduler)
    wait_until_worker_ready(scheduler)
    scheduler.wait_output(f"Prometheus metrics on http://127.0.0.1:{port}/metrics")

    def scrape() -> Samples:
        return parse(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)

    trax.enqueue("demo.greet", {"name": "Ada"})
    trax.enqueue("demo.greet", {"name": "Bo"})
    trax.enqueue("demo.always_fails", {"name": "Cy"}, max_retries=1)  # fails, retried, fails
    trax.scheduler.schedule(
        "doomed", "demo.always_fails", {"name": "Di"}, Every.hours(1), max_retries=0
    )
    trax.scheduler.trigger("doomed")  # fails once: a dead letter
    trax.enqueue("demo.slow", {"steps": 600})
    slow = wait_for(
        lambda: Metadata.objects.filter(
            name="demo.slow", train_state=TrainState.IN_PROGRESS
        ).first(),
        "the slow run to start",
    )
    trax.cancel_run(slow.pk)

    wait_for(lambda: states("demo.greet") == ["completed"] * 2, "the greetings")
    wait_for(lambda: states("demo.always_fails") == ["failed"] * 3, "three failures", limit=30)
    wait_for(lambda: DeadLetter.objects.count() == 1, "the dead letter")
    wait_for(lambda: states("demo.slow") == ["cancelled"], "the cancel")

    wanted = {
        ("trax_runs_started_total", "demo.greet", None): 2,
        ("trax_runs_started_total", "demo.always_fails", None): 3,
        ("trax_runs_started_total", "demo.slow", None): 1,
        ("trax_runs_finished_total", "demo.greet", "completed"): 2,
        ("trax_runs_finished_total", "demo.always_fails", "failed"): 3,
        ("trax_runs_finished_total", "demo.slow", "cancelled"): 1,
        ("trax_run_duration_seconds_count", "demo.greet", None): 2,
        ("trax_queue_wait_seconds_count", "demo.greet", None): 2,
        ("trax_queue_wait_seconds_count", "demo.always_fails", None): 3,
        ("trax_runs_retried_total", None, None): 1,
        ("trax_dead_letters_total", None, None): 1,
    }

    def seen(samples: Samples) -> dict[tuple[str, str | None, str | None], float]:
        found = {}
        for metric, train, outcome in wanted:
            labels = {"train": train} if train else {}
            if outcome:
                labels["outcome"] = outcome
            found[(metric, train, outcome)] = value(samples, metric, **labels)
        return found

    # Counted when each run's thread ends and each cycle reports: the database may be ahead.
    last: list[Samples] = []
    wait_for(
        lambda: last.append(scrape()) or seen(last[-1]) == wanted,
        "the counters to match the runs",
        limit=15,
        every=0.2,
    )
    samples = last[-1]
    assert value(samples, "trax_dispatch_failures_total") == 0
    assert value(samples, "trax_run_duration_seconds_sum", train="demo.slow") > 0
    # The port serves this process only: the cluster's gauges come from the web view.
    assert not [key for key in samples if key[0] == "trax_queue_depth"]

    client = Client()
    client.force_login(get_user_model().objects.create_user("ops", password="x", is_staff=True))
    settings.TRAX = {
        **settings.TRAX,
        "METRICS_CACHE_SECONDS": 0,
        "LEASE_SECONDS": 1,
        "HEARTBEAT_INTERVAL_SECONDS": 0.2,
    }
    cluster = parse(client.get("/metrics").content.decode())
    assert value(cluster, "trax_leader", name="manager") == 1
    assert value(cluster, "trax_worker_up", kind="scheduler") == 1
    assert value(cluster, "trax_dead_letters_awaiting") == 1
    assert value(cluster, "trax_runs_in_progress") == 0


def test_a_port_in_use_stops_the_worker_naming_it(children: Children) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = children.worker("--metrics-port", str(port), "--metrics-address", "127.0.0.1")
        assert worker.wait_exit(60) != 0
    assert f"cannot serve metrics on 127.0.0.1:{port}" in worker.output()
