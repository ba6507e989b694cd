"""The Audit page: who did what, when, to which object; filtered by actor, action and
target. Read only."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dashboard.access import console_page
from dashboard.audit.listing import audit_page
from dashboard.audit.search import parse_audit_search
from dashboard.rendering import render_page
from dashboard.runs import COUNT_CAP
from dashboard.ticked import page_key
from trax.models import Audit
from trax.store import run_records_alias


@console_page
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The audit rows matching the filter, newest first, a page at a time by id; a filter it
    cannot read is an error naming the term, with nothing listed."""
    text = request.GET.get("q", "")
    context: dict[str, Any] = {"q": text, "cap": COUNT_CAP}
    try:
        search = parse_audit_search(text)
        before = page_key(request.GET.get("before"), "audit row")
    except ValueError as error:
        context["error"] = str(error)
        return render_page(request, "audit", context, status=400)
    matched = search.apply(Audit.objects.using(run_records_alias()))
    context["page"] = audit_page(matched, before=before)
    return render_page(request, "audit", context)
