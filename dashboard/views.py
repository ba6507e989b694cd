"""Dashboard pages: staff only."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.access import console_page
from dashboard.charts import runs_per_minute
from dashboard.overview import build_overview
from dashboard.run_detail import run_detail
from dashboard.runs import COUNT_CAP, runs_page
from dashboard.search import SearchError, parse_search
from trax.api import cancel_run
from trax.conf import get_settings
from trax.models import Metadata
from trax.store import audit_record, database_now, run_records_alias

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


@console_page
@require_http_methods(["GET"])
def run(request: HttpRequest, run_id: int) -> HttpResponse:
    """One run: timeline, pipeline with per-junction durations, input and output, failure,
    logs, lineage."""
    using = run_records_alias()
    found = Metadata.objects.using(using).filter(id=run_id).first()
    if found is None:
        raise Http404(f"no run {run_id}")
    context = {"d": run_detail(found, using=using)}
    return render(request, _template(request, "run"), context)


@console_page
@require_POST
def cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    """Cancel the run and its children (needs ``trax.cancel_run``); audited."""
    if not request.user.has_perm("trax.cancel_run"):
        return HttpResponseForbidden(
            "Cancelling runs needs the permission 'Can cancel runs from the console' "
            "(trax.cancel_run)."
        )
    using = run_records_alias()
    if not Metadata.objects.using(using).filter(id=run_id).exists():
        raise Http404(f"no run {run_id}")
    stopped = cancel_run(run_id)
    audit_record(
        actor=request.user.get_username(),
        action="run.cancel",
        target=f"run:{run_id}",
        detail={"active": stopped, "from": "console"},
        using=using,
    )
    if stopped:
        messages.success(request, f"Run {run_id} cancelled ({stopped} active run(s) stopped).")
    else:
        messages.info(request, f"Run {run_id} had already finished: nothing to cancel.")
    return redirect("dashboard:run", run_id=run_id)
