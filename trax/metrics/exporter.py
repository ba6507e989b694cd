"""The stand-alone Prometheus port of a worker or scheduler process (``--metrics-port``): this
process's own instruments, for scrapers that reach workers directly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError, CommandParser

from trax.management.arguments import port_number
from trax.metrics.process import process_metrics


def add_exporter_arguments(parser: CommandParser) -> None:
    """``--metrics-port`` and ``--metrics-address`` on a command."""
    parser.add_argument(
        "--metrics-port",
        type=port_number,
        default=None,
        help="Serve this process's Prometheus metrics on this port (needs the metrics extra).",
    )
    parser.add_argument(
        "--metrics-address",
        default="0.0.0.0",
        help="The address the metrics port listens on (default 0.0.0.0).",
    )


def start_exporter(options: dict[str, Any], say: Callable[[str], Any]) -> None:
    """Serve ``/metrics`` on ``--metrics-port`` from a daemon thread, when asked; a port in
    use or a missing library stops the command with a message naming it."""
    port = options.get("metrics_port")
    if port is None:
        return
    address = options["metrics_address"]
    try:
        from prometheus_client import start_http_server
    except ImportError:
        raise CommandError(
            "--metrics-port needs prometheus-client: pip install 'django-trax[metrics]'"
        ) from None
    process_metrics()  # the instruments exist (at zero) before the first run
    try:
        start_http_server(port, addr=address)
    except OSError as error:
        raise CommandError(
            f"cannot serve metrics on {address}:{port}: {error.strerror or error}"
        ) from None
    say(f"Prometheus metrics on http://{address}:{port}/metrics")
