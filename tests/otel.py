"""An OpenTelemetry SDK for a test: set as the process's tracer provider for one case (the API
lets a process set it once, so tests reset its globals around each)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once


def _reset_provider(provider: Any) -> None:
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = provider  # type: ignore[attr-defined]


def install_provider(exporter: SpanExporter) -> None:
    """Make ``exporter`` receive every span this process ends from now on."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _reset_provider(None)
    trace.set_tracer_provider(provider)


@contextmanager
def in_memory_spans() -> Iterator[InMemorySpanExporter]:
    """Spans ended inside, kept in memory; no provider again afterwards."""
    exporter = InMemorySpanExporter()
    install_provider(exporter)
    try:
        yield exporter
    finally:
        _reset_provider(None)
