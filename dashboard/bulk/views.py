"""Starting an action on all matching objects (asked, then confirmed), and its progress."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from dashboard.access import console_page, refusal
from dashboard.bulk.actions import BulkAction, bulk_action
from dashboard.bulk.runner import launch
from dashboard.rendering import render_page
from dashboard.runs import COUNT_CAP
from trax.models import BulkOperation
from trax.store import bulk_operation_start, database_now, run_records_alias

#: A running operation whose row has not moved for this long lost the process running it.
INTERRUPTED_AFTER = timedelta(minutes=2)


@console_page
@require_POST
def start(request: HttpRequest) -> HttpResponse:
    """Ask how many objects the action would touch; with ``confirm`` set, start it."""
    page, name = request.POST.get("page", ""), request.POST.get("action", "")
    try:
        action = bulk_action(page, name)
    except KeyError as unknown:
        return HttpResponseBadRequest(unknown.args[0])
    refused = refusal(request, action.permission, f"{action.label} on all matching")
    if refused is not None:
        return refused
    query = request.POST.get("q", "")
    params = {param: request.POST.get(param, "") for param in action.params}
    actor = request.user.get_username()
    try:
        matching = action.matching(query)
        action.apply([], actor, params)  # validates the params, writes nothing
    except ValueError as error:
        return _bad_request(request, action, query, str(error))
    if request.POST.get("confirm") != "yes":
        seen = len(matching.order_by().values_list("pk", flat=True)[: COUNT_CAP + 1])
        context = {
            "action": action,
            "q": query,
            "params": params,
            "count": seen,
            "capped": seen > COUNT_CAP,
            "back": _page_url(page, query),
        }
        return render(request, "dashboard/bulk_confirm.html", context)
    operation = bulk_operation_start(
        actor=actor, page=page, action=name, query=query, params=params, using=run_records_alias()
    )
    launch(operation.pk)
    return redirect("dashboard:bulk", operation_id=operation.pk)


def _bad_request(request: HttpRequest, action: BulkAction, query: str, error: str) -> HttpResponse:
    context = {"action": action, "q": query, "error": error, "back": _page_url(action.page, query)}
    return render(request, "dashboard/bulk_confirm.html", context, status=400)


def _page_url(page: str, query: str) -> str:
    try:
        url = reverse(f"dashboard:{page}")
    except NoReverseMatch:
        return reverse("dashboard:overview")
    return f"{url}?{urlencode({'q': query})}" if query else url


@console_page
@require_GET
def progress(request: HttpRequest, operation_id: int) -> HttpResponse:
    """How far an operation got: matched so far of the total, changed, done or failed."""
    using = run_records_alias()
    operation = BulkOperation.objects.using(using).filter(id=operation_id).first()
    if operation is None:
        raise Http404(f"no bulk operation {operation_id}")
    context: dict[str, Any] = {
        "op": operation,
        "interrupted": operation.state == BulkOperation.State.RUNNING
        and database_now(using) - operation.updated_at > INTERRUPTED_AFTER,
        "percent": _percent(operation),
        "back": _page_url(operation.page, operation.query),
    }
    return render_page(request, "bulk", context)


def _percent(operation: BulkOperation) -> int:
    if operation.state == BulkOperation.State.DONE:
        return 100
    if not operation.total:
        return 0
    return min(100, operation.processed * 100 // operation.total)
