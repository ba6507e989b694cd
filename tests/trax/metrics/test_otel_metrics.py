"""The process instruments mirrored through the OpenTelemetry metrics API, read with the SDK's
in-memory reader; nothing without an SDK."""

from __future__ import annotations

from typing import Any

import pytest

import trax
from project.trains import PaymentDeclined
from tests.otel import in_memory_metrics
from trax.manager.cycle import run_manager_cycle
from trax.metrics.otel_metrics import meter_active, otel_metrics
from trax.scheduling.schedules import Every
from trax.testing import drain

pytestmark = pytest.mark.django_db


def points(reader: Any) -> dict[tuple[str, tuple[tuple[str, Any], ...]], Any]:
    found = {}
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    found[(metric.name, tuple(sorted(point.attributes.items())))] = point
    return found


def test_without_an_sdk_no_instrument_is_made() -> None:
    assert not meter_active()
    assert otel_metrics() is None


def test_runs_are_counted_by_train_and_outcome_with_durations() -> None:
    with in_memory_metrics() as reader:
        trax.run("demo.greet", {"name": "Ada"})
        trax.run("demo.greet", {"name": "Bo"})
        with pytest.raises(PaymentDeclined):
            trax.run("demo.always_fails", {"name": "Cy"})
        found = points(reader)

    greet = (("trax.train", "demo.greet"),)
    assert found[("trax.runs.started", greet)].value == 2
    assert found[("trax.runs.finished", (("trax.outcome", "completed"), *greet))].value == 2
    failed = (("trax.outcome", "failed"), ("trax.train", "demo.always_fails"))
    assert found[("trax.runs.finished", failed)].value == 1
    assert found[("trax.run.duration", greet)].count == 2
    assert ("trax.queue.wait", greet) not in found  # trax.run never queued


def test_the_managers_retries_and_dead_letters_are_counted(settings: Any) -> None:
    settings.TRAX = {**settings.TRAX, "RETRY_DELAY_SECONDS": 0}
    with in_memory_metrics() as reader:
        trax.scheduler.schedule(
            "doomed", "demo.always_fails", {"name": "Di"}, Every.hours(1), max_retries=1
        )
        trax.scheduler.trigger("doomed")
        drain()  # fails
        run_manager_cycle()  # retry queued
        drain()  # fails again
        run_manager_cycle()  # dead letter
        found = points(reader)

    assert found[("trax.runs.retried", ())].value == 1
    assert found[("trax.dead_letters", ())].value == 1
