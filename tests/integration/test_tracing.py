"""One trace across processes: the span that enqueued a run here, and the run's span with one
child per junction in a real worker process, linked to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry import trace

import trax
from tests.integration.conftest import Children, wait_for, wait_until_worker_ready
from tests.integration.spans import read_spans
from tests.otel import in_memory_spans
from trax.models import Metadata, TrainState

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def test_a_worker_processs_run_span_links_to_the_span_that_enqueued_it(
    children: Children, work_dir: Path
) -> None:
    spans_file = work_dir / "spans.jsonl"
    children.env = {**children.env, "TRAX_TEST_SPANS": str(spans_file)}
    worker = children.worker("--concurrency", "1")
    wait_until_worker_ready(worker)

    with in_memory_spans(), trace.get_tracer("shop").start_as_current_span("checkout") as checkout:
        trax.enqueue("demo.greet", {"name": "Ada"})
    context = checkout.get_span_context()
    trace_id, span_id = f"{context.trace_id:032x}", f"{context.span_id:016x}"

    wait_for(
        lambda: Metadata.objects.filter(train_state=TrainState.COMPLETED).exists(),
        "the run to complete",
    )
    run_id = Metadata.objects.get().pk
    wait_for(
        lambda: any(span["name"] == "run demo.greet" for span in read_spans(spans_file)),
        "the worker to export the run's span",
    )

    spans = read_spans(spans_file)
    (run,) = [span for span in spans if span["name"] == "run demo.greet"]
    assert run["kind"] == "CONSUMER"
    assert run["parent_id"] is None
    assert run["links"] == [{"trace_id": trace_id, "span_id": span_id}]
    assert run["attributes"]["trax.run_id"] == run_id
    assert run["attributes"]["trax.attempt"] == 1
    assert run["attributes"]["trax.outcome"] == "completed"
    junctions = [span for span in spans if span["name"].startswith("junction ")]
    assert sorted(span["name"] for span in junctions) == [
        "junction ComposeGreeting",
        "junction shout",
        "junction sign",
    ]
    for span in junctions:
        assert span["trace_id"] == run["trace_id"]
        assert span["parent_id"] == run["span_id"]
