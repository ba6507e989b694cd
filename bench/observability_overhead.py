"""Benchmark: what metrics and tracing add to a run's lifecycle in a worker, without the
database (bench/run_overhead.py's measurement, with each switched on and off).

    .venv/bin/python bench/observability_overhead.py [--runs 20000] [--repeat 5]

Variants, interleaved within each repetition so all see the same machine:

- ``off``: ``METRICS`` and ``TRACING`` off (what a deployment without the extras costs).
- ``metrics``: the Prometheus instruments counting (started, finished, duration and queue wait
  histograms).
- ``tracing``: an OpenTelemetry SDK with a batch processor and an exporter that drops the spans
  (a span per run and per junction, context attached and detached).
- ``both``.

Prints microseconds per run (median) and the increase over ``off``; a worker draining no-op
runs at ~6,000 runs/s on this machine spends ~330 us of wall time per run, the reference for
the percentage of the drain. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_overhead import runs, setup_django

#: Wall time per run of a two-worker no-op drain here (bench/queue_throughput.py, tuned).
DRAIN_US_PER_RUN = 1e6 / 6000


class DroppingExporter:
    """Takes spans and keeps none: the SDK's own cost, no export's."""

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup_django()
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(DroppingExporter(), max_queue_size=1 << 20)  # type: ignore[arg-type]
    )
    trace.set_tracer_provider(provider)

    variants = {
        "off": {"metrics": False, "tracing": False},
        "metrics": {"metrics": True, "tracing": False},
        "tracing": {"metrics": False, "tracing": True},
        "both": {"metrics": True, "tracing": True},
    }
    for options in variants.values():
        runs(500, options=options)  # warm-up
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeat):
        for name, options in variants.items():
            timings[name].append(runs(args.runs, options=options) / args.runs * 1e6)
            provider.force_flush()  # the export thread idle before the next variant's timing
    base = statistics.median(timings["off"])
    print(f"run lifecycle of demo.noop (no database), median of {args.repeat} x {args.runs:,}:")
    for name, values in timings.items():
        median = statistics.median(values)
        extra = median - base
        print(
            f"  {name:<8} {median:6.1f} us per run   +{extra:5.1f} us "
            f"(+{extra / base * 100:4.1f} % of the lifecycle, "
            f"+{extra / DRAIN_US_PER_RUN * 100:4.1f} % of a drain's wall time per run)"
        )


if __name__ == "__main__":
    main()
