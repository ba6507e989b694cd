"""Dashboard pages: staff only."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dashboard import run_actions  # noqa: F401  (offers "cancel all matching" on runs)
from dashboard.access import console_page, refusal
from dashboard.charts import runs_per_minute
from dashboard.overview import build_overview
from dashboard.rendering import page_template
from dashboard.run_detail import run_detail
from dashboard.runs import COUNT_CAP, runs_page
from dashboard.search import SearchError, parse_search
from trax.api import cancel_run
from trax.conf import get_settings
from trax.models import Metadata
from trax.store import audit_record, database_now, run_records_alias


@console_page
def overview(request: HttpRequest) -> HttpResponse:
    """What runs, waits, fails and works now, with the last hour and day from the rollups."""
    using = run_records_alias()
    data = build_overview(
        database_now(using), using=using, stale_after=get_settings().LEASE_SECONDS
    )
    context = {"o": data, "chart": runs_per_minute(data.per_minute)}
    return render(request, page_template(request, "overview"), context)


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
        return render(request, page_template(request, "runs"), context, status=400)
    matched = search.apply(Metadata.objects.using(run_records_alias()))
    context["page"] = runs_page(matched, before=before)
    return render(request, page_template(request, "runs"), context)


def _page_key(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise SearchError(f"before={value!r} is not a run id")
    return int(value)


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
    return render(request, page_template(request, "run"), context)


@console_page
@require_POST
def cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    """Cancel the run and its children (needs ``trax.cancel_run``); audited."""
    refused = refusal(request, "trax.cancel_run", "Cancelling runs")
    if refused is not None:
        return refused
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
