"""trax's monitoring views: the health report (open, for probes) and the Prometheus metrics
(staff, or a scraper's bearer token)."""

from __future__ import annotations

import hmac
import os
import threading
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from trax.conf import TraxSettings, effective_settings
from trax.metrics.cluster import ClusterCollector
from trax.metrics.health import HealthThresholds, check_health
from trax.metrics.process import counting
from trax.store import run_records_alias


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """GET or HEAD: the health report (no login: it names no run, train or input)."""
    using = run_records_alias()
    report = check_health(
        HealthThresholds.from_settings(effective_settings(using=using)), using=using
    )
    return JsonResponse(report.as_dict(), status=200 if report.healthy else 503)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """GET or HEAD: this process's instruments and the cluster's gauges in Prometheus's text
    format, for staff or ``Authorization: Bearer`` the token in ``$TRAX_METRICS_TOKEN``."""
    using = run_records_alias()
    conf = effective_settings(using=using)
    refused = _refusal(request, conf)
    if refused is not None:
        return refused
    try:
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
    except ImportError:
        return HttpResponse(
            "prometheus-client is not installed: pip install 'django-trax[metrics]'\n",
            status=501,
            content_type="text/plain; charset=utf-8",
        )
    counting(conf.METRICS)  # the instruments exist (at zero) before the first run
    body = generate_latest(REGISTRY) + generate_latest(_cluster_registry(using))
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _refusal(request: HttpRequest, conf: TraxSettings) -> HttpResponse | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, given = header.partition(" ")
        token = os.environ.get(conf.METRICS_TOKEN_ENV, "")
        if not token:
            return _unauthorized(f"no metrics token is configured (${conf.METRICS_TOKEN_ENV})")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return _unauthorized("the bearer token is not the metrics token")
        return None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return _unauthorized("log in as staff, or send Authorization: Bearer <metrics token>")
    if not (user.is_active and user.is_staff):
        return HttpResponse("staff only\n", status=403, content_type="text/plain; charset=utf-8")
    return None


def _unauthorized(why: str) -> HttpResponse:
    response = HttpResponse(f"{why}\n", status=401, content_type="text/plain; charset=utf-8")
    response["WWW-Authenticate"] = 'Bearer realm="trax metrics"'
    return response


_registries: dict[str, Any] = {}
_registries_lock = threading.Lock()


def _cluster_registry(using: str) -> Any:
    """A registry of its own for the cluster gauges (a worker's exporter port serves only the
    default one: the cluster is told once, by the web processes)."""
    with _registries_lock:
        registry = _registries.get(using)
        if registry is None:
            from prometheus_client import CollectorRegistry

            registry = CollectorRegistry(auto_describe=False)
            registry.register(
                ClusterCollector(using=using, settings=lambda: effective_settings(using=using))
            )
            _registries[using] = registry
        return registry
