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


@contextmanager
def in_memory_metrics() -> Iterator[Any]:
    """An SDK meter provider with an in-memory reader for the block (``reader.get_metrics_data()``);
    trax's mirrored instruments are made for it and forgotten afterwards."""
    from opentelemetry.metrics import _internal as metrics_globals
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from trax.effects.from_settings import reset_default_service
    from trax.metrics import otel_metrics

    reader = InMemoryMetricReader()
    metrics_globals._METER_PROVIDER_SET_ONCE = Once()
    metrics_globals._METER_PROVIDER = None
    metrics_globals.set_meter_provider(MeterProvider(metric_readers=[reader]))
    otel_metrics.forget()
    reset_default_service()
    try:
        yield reader
    finally:
        metrics_globals._METER_PROVIDER_SET_ONCE = Once()
        metrics_globals._METER_PROVIDER = None
        otel_metrics.forget()
        reset_default_service()
