"""OpenTelemetry traces, through the ``opentelemetry-api`` package when it is installed and an
SDK is configured (otherwise nothing is done): a span per run with a child span per junction,
and the trace context of the code that queued a run carried on its work entry and run record
(W3C ``traceparent``) so the run's span links back to it across processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from trax.core import RunContext

#: Instrumentation scope of trax's spans.
TRACER_NAME = "trax"

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:  # the tracing extra is not installed
    trace = None  # type: ignore[assignment]

_PROPAGATOR: Any = TraceContextTextMapPropagator() if trace is not None else None


def tracing_active() -> bool:
    """Whether spans would be recorded: the API is installed and an SDK set a real provider
    (the API's default proxy and no-op providers record nothing, so trax skips them)."""
    if trace is None:
        return False
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def current_trace_parent() -> str:
    """The ``traceparent`` of the span current here, '' when there is none (or no tracing)."""
    if trace is None or not trace.get_current_span().get_span_context().is_valid:
        return ""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent", "")


class RunTracing:
    """The spans of one run: the run's, current while it runs, and one per junction under it.
    Make it with ``start_run``; end it with ``finish`` whatever happened."""

    def __init__(self, span: Any, token: Any) -> None:
        self.span = span
        self._run_token = token
        self._junction: tuple[Any, Any] | None = None

    def junction_started(self, name: str) -> None:
        """A junction begins: its span becomes current (user spans inside nest under it)."""
        self._end_junction(None)
        span = _tracer().start_span(f"junction {name}", attributes={"trax.junction": name})
        token = otel_context.attach(trace.set_span_in_context(span))
        self._junction = (span, token)

    def junction_ended(self, error: BaseException | None) -> None:
        """The junction returned (``error`` None) or raised."""
        self._end_junction(error)

    def finish(self, outcome: str, error: BaseException | None = None) -> None:
        """End the run's span (and a junction's cut short) with the run's outcome."""
        self._end_junction(None)
        self.span.set_attribute("trax.outcome", outcome)
        if outcome == "failed":
            if error is not None:
                self.span.record_exception(error)
            self.span.set_status(trace.Status(trace.StatusCode.ERROR, _describe(error)))
        otel_context.detach(self._run_token)
        self.span.end()

    def _end_junction(self, error: BaseException | None) -> None:
        if self._junction is None:
            return
        span, token = self._junction
        self._junction = None
        if error is not None and not _is_cancel(error):
            span.record_exception(error)
            span.set_status(trace.Status(trace.StatusCode.ERROR, _describe(error)))
        otel_context.detach(token)
        span.end()


def start_run(run: RunContext, *, trace_parent: str, queued: bool, host: str) -> RunTracing | None:
    """The run's span, current from here on; None when tracing is not active. A queued run
    (a worker's) starts a trace of its own linked to ``trace_parent``; a run started in place
    (``trax.run``) is a child of the span current there."""
    if not tracing_active():
        return None
    links = []
    if trace_parent:
        linked = trace.get_current_span(_PROPAGATOR.extract({"traceparent": trace_parent}))
        if linked.get_span_context().is_valid:
            links.append(trace.Link(linked.get_span_context()))
    span = _tracer().start_span(
        f"run {run.train_name}",
        context=otel_context.Context() if queued else None,
        kind=trace.SpanKind.CONSUMER if queued else trace.SpanKind.INTERNAL,
        links=links,
        attributes={
            "trax.train": run.train_name,
            "trax.run_id": run.run_id or 0,
            "trax.attempt": run.attempt or 1,
            "host.name": host,
        },
    )
    return RunTracing(span, otel_context.attach(trace.set_span_in_context(span)))


@contextmanager
def engine_span(name: str) -> Iterator[None]:
    """A span around engine work (a manager cycle), current inside so the work it queues
    carries its context; nothing when tracing is not active."""
    if not tracing_active():
        yield
        return
    with _tracer().start_as_current_span(name):
        yield


def _tracer() -> Any:
    return trace.get_tracer(TRACER_NAME)


def _is_cancel(error: BaseException) -> bool:
    from trax.core import TrainCancelled

    return isinstance(error, TrainCancelled)


def _describe(error: BaseException | None) -> str:
    return f"{type(error).__name__}: {error}" if error is not None else "failed"
