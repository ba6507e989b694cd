"""OpenTelemetry traces with the SDK's in-memory exporter: a span per run with a child span per
junction, the enqueuing span's context carried on the work to the run's span (a link), and
nothing at all without an SDK (a real worker process: tests/integration/test_tracing.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import trax
from project.trains import PaymentDeclined
from tests.otel import in_memory_spans
from tests.trax.effects.trains import Numbers, Total
from trax.manager.cycle import run_manager_cycle
from trax.metrics.tracing import current_trace_parent, tracing_active
from trax.models import Metadata, WorkQueue
from trax.testing import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """An SDK configured for the test, exporting to memory."""
    with in_memory_spans() as exporter:
        yield exporter


def named(exporter: InMemorySpanExporter, prefix: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name.startswith(prefix)]


def test_without_an_sdk_nothing_is_traced_or_stored() -> None:
    assert not tracing_active()
    with trace.get_tracer("app").start_as_current_span("request"):
        assert current_trace_parent() == ""
        trax.enqueue("demo.greet", {"name": "Ada"})
    assert WorkQueue.objects.get().trace_parent == ""
    assert Metadata.objects.get().trace_parent == ""


def test_a_run_in_place_is_a_child_of_the_callers_span_with_a_span_per_junction(
    spans: InMemorySpanExporter,
) -> None:
    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("request") as request:
        trax.run("demo.greet", {"name": "Ada"})

    (run,) = named(spans, "run ")
    row = Metadata.objects.get()
    assert run.name == "run demo.greet"
    assert run.parent is not None and run.parent.span_id == request.get_span_context().span_id
    assert run.kind == trace.SpanKind.INTERNAL
    assert dict(run.attributes or {}) == {
        "trax.train": "demo.greet",
        "trax.run_id": row.pk,
        "trax.attempt": 1,
        "host.name": row.host_name,
        "trax.outcome": "completed",
    }
    junctions = sorted(named(spans, "junction "), key=lambda span: span.start_time or 0)
    assert [span.name for span in junctions] == [
        "junction ComposeGreeting",
        "junction shout",
        "junction sign",
    ]
    for span in junctions:
        assert span.parent is not None and span.parent.span_id == run.context.span_id
        assert span.context.trace_id == request.get_span_context().trace_id


def test_a_failure_marks_its_junction_and_run_as_errors(spans: InMemorySpanExporter) -> None:
    with pytest.raises(PaymentDeclined):
        trax.run("demo.always_fails", {"name": "Ada"})

    (run,) = named(spans, "run ")
    assert run.status.status_code == trace.StatusCode.ERROR
    assert run.attributes is not None and run.attributes["trax.outcome"] == "failed"
    assert "PaymentDeclined" in (run.status.description or "")
    (charge,) = named(spans, "junction charge_card")
    assert charge.status.status_code == trace.StatusCode.ERROR
    assert [event.name for event in charge.events] == ["exception"]
    # The junction after the failure never ran: no span for it.
    assert not named(spans, "junction sign")


def total_in_a_span(numbers: Numbers) -> Total:
    with trace.get_tracer("app").start_as_current_span("call pricing api"):
        return Total(sum(numbers.values))


@trax.register
class Priced(trax.Train[Numbers, Total]):
    name = "tests.priced"
    junctions = [total_in_a_span]


def test_a_users_span_inside_a_junction_nests_under_it(spans: InMemorySpanExporter) -> None:
    assert trax.run(Priced, Numbers([1, 2])) == Total(3)

    (user,) = named(spans, "call pricing api")
    (junction,) = named(spans, "junction total_in_a_span")
    (run,) = named(spans, "run tests.priced")
    assert user.parent is not None and user.parent.span_id == junction.context.span_id
    assert junction.parent is not None and junction.parent.span_id == run.context.span_id


def test_queued_work_carries_the_enqueuing_span_to_its_runs_span_as_a_link(
    spans: InMemorySpanExporter,
) -> None:
    with trace.get_tracer("app").start_as_current_span("checkout") as checkout:
        trax.enqueue("demo.greet", {"name": "Ada"})
        parent = current_trace_parent()

    context = checkout.get_span_context()
    assert parent.startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
    assert WorkQueue.objects.get().trace_parent == parent
    assert Metadata.objects.get().trace_parent == parent

    drain()

    (run,) = named(spans, "run ")
    assert run.kind == trace.SpanKind.CONSUMER
    assert run.parent is None  # a trace of its own: it may run long after the request ended
    assert run.context.trace_id != context.trace_id
    assert [(link.context.trace_id, link.context.span_id) for link in run.links] == [
        (context.trace_id, context.span_id)
    ]
    assert run.attributes is not None and run.attributes["trax.outcome"] == "completed"
    assert len(named(spans, "junction ")) == 3


def test_work_through_the_dispatcher_keeps_the_context(
    spans: InMemorySpanExporter, settings: Any
) -> None:
    settings.TRAX = {**settings.TRAX, "DIRECT_DISPATCH": False}
    with trace.get_tracer("app").start_as_current_span("nightly import") as parent:
        trax.enqueue("demo.greet", {"name": "Ada"})
    assert Metadata.objects.count() == 0  # still queued

    drain()

    (run,) = named(spans, "run ")
    assert [link.context.span_id for link in run.links] == [parent.get_span_context().span_id]


def test_work_the_manager_queues_links_to_its_cycle(spans: InMemorySpanExporter) -> None:
    trax.scheduler.schedule("every-minute", "demo.greet", {"name": "Ada"}, trax.Every.minutes(1))

    run_manager_cycle()

    (cycle,) = named(spans, "trax.manager_cycle")
    entry = WorkQueue.objects.get(manifest__external_id="every-minute")
    assert entry.trace_parent.split("-")[2] == f"{cycle.context.span_id:016x}"


def test_tracing_off_records_nothing(spans: InMemorySpanExporter, settings: Any) -> None:
    from trax.effects.from_settings import reset_default_service

    settings.TRAX = {**settings.TRAX, "TRACING": False}
    reset_default_service()

    trax.run("demo.greet", {"name": "Ada"})

    assert not spans.get_finished_spans()
