"""Dashboard pages: staff only."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.access import console_page
from dashboard.charts import runs_per_minute
from dashboard.overview import build_overview
from dashboard.runs import COUNT_CAP, runs_page
from dashboard.search import SearchError, parse_search
from trax.conf import get_settings
from trax.models import Metadata
from trax.store import database_now, run_records_alias

#: The header a page's own script sends when it fetches a fresh copy of its live part.
FRAGMENT_HEADER = "HTTP_X_TRAX_FRAGMENT"


@console_page
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


@console_page
def runs(request: HttpRequest) -> HttpResponse:
    """Every run, searched and paged by key; a search it cannot read is an error naming the
    term, with no runs shown."""
    text = request.GET.get("q", "")
    context: dict[str, object] = {"q": text, "cap": COUNT_CAP}
    try:
        search = parse_search(text)
        before = _page_key(request.GET.get("before"))
    except SearchError as error:
        context["error"] = str(error)
        return render(request, _template(request, "runs"), context, status=400)
    matched = search.apply(Metadata.objects.using(run_records_alias()))
    context["page"] = runs_page(matched, before=before)
    return render(request, _template(request, "runs"), context)


def _page_key(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise SearchError(f"before={value!r} is not a run id")
    return int(value)


def _template(request: HttpRequest, page: str) -> str:
    live = "_live" if request.META.get(FRAGMENT_HEADER) else ""
    return f"dashboard/{page}{live}.html"
