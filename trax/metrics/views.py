"""The health view: the checks of ``trax.metrics.health`` as JSON, 200 when healthy and 503
when not, for a load balancer or a Kubernetes probe."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from trax.conf import effective_settings
from trax.metrics.health import HealthThresholds, check_health
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
