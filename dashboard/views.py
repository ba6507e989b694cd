"""Dashboard pages: staff only."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.charts import runs_per_minute
from dashboard.overview import build_overview
from trax.conf import get_settings
from trax.store import database_now, run_records_alias

#: The header a page's own script sends when it fetches a fresh copy of its live part.
FRAGMENT_HEADER = "HTTP_X_TRAX_FRAGMENT"


@staff_member_required
def overview(request: HttpRequest) -> HttpResponse:
    """What runs, waits, fails and works now, with the last hour and day from the rollups."""
    using = run_records_alias()
    data = build_overview(
        database_now(using), using=using, stale_after=get_settings().LEASE_SECONDS
    )
    context = {"o": data, "chart": runs_per_minute(data.per_minute)}
    if request.META.get(FRAGMENT_HEADER):
        return render(request, "dashboard/overview_live.html", context)
    return render(request, "dashboard/overview.html", context)
