"""The Queue page: work entries queued and dispatched (filtered by state and train), the
background jobs with who claimed them and their lease; cancel one or the ticked queued entries
here (``trax.cancel_run``), all matching through the bulk runner."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dashboard.access import console_page, refusal
from dashboard.back import back_to
from dashboard.queue.actions import CANCEL, still_queued
from dashboard.queue.listing import background_jobs, queue_page
from dashboard.queue.search import parse_queue_search
from dashboard.rendering import render_page
from dashboard.runs import COUNT_CAP
from dashboard.ticked import page_key, ticked_ids
from trax.models import BackgroundJob, WorkQueue
from trax.store import audit_record, database_now, run_records_alias


@console_page
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Entries matching the filter, newest first, a page at a time by id, and the background
    jobs of the trains it names; a filter it cannot read is an error naming the term."""
    text = request.GET.get("q", "")
    context: dict[str, Any] = {
        "q": text,
        "cap": COUNT_CAP,
        "may_cancel": request.user.has_perm(CANCEL.permission),
    }
    try:
        search = parse_queue_search(text)
        before = page_key(request.GET.get("before"), "work entry")
    except ValueError as error:
        context["error"] = str(error)
        return render_page(request, "queue", context, status=400)
    using = run_records_alias()
    now = database_now(using)
    context["now"] = now
    context["page"] = queue_page(search.apply(WorkQueue.objects.using(using)), before=before)
    context["jobs"] = background_jobs(search.jobs(BackgroundJob.objects.using(using)), now=now)
    return render_page(request, "queue", context)


@console_page
@require_POST
def cancel_selected(request: HttpRequest) -> HttpResponse:
    """Cancel the ticked entries (``ids``) still queued; one audit row with the count."""
    return _cancel(request, request.POST.getlist("ids"))


@console_page
@require_POST
def cancel_one(request: HttpRequest, entry_id: int) -> HttpResponse:
    """Cancel one queued entry; audited."""
    return _cancel(request, [str(entry_id)])


def _cancel(request: HttpRequest, raw_ids: list[str]) -> HttpResponse:
    refused = refusal(request, CANCEL.permission, "Cancelling queued work")
    if refused is not None:
        return refused
    try:
        ids = ticked_ids(raw_ids, "work entry")
    except ValueError as error:
        return _problem(request, str(error))
    using = run_records_alias()
    found = set(WorkQueue.objects.using(using).filter(id__in=ids).values_list("id", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(map(str, missing[:20]))
        return _problem(request, f"No work entry has the id(s) {shown}.", status=404)
    queued = still_queued(ids)
    if not queued:
        messages.info(request, _not_queued(len(ids)))
        return back_to(request, "dashboard:queue")
    actor = request.user.get_username()
    count = CANCEL.apply(queued, actor, {})
    audit_record(
        actor=actor,
        action="queue.cancel",
        target=f"work_entry:{ids[0]}" if len(ids) == 1 else "work_entries",
        detail={"ids": queued, "count": count, "from": "console"},
        using=using,
    )
    text = f"Cancelled {count} queued entr{'y' if count == 1 else 'ies'}."
    if len(ids) > count:
        text += f" {_not_queued(len(ids) - count)}"
    messages.success(request, text)
    return back_to(request, "dashboard:queue")


def _not_queued(count: int) -> str:
    return f"{count} no longer queued (dispatched or cancelled), left as they were."


def _problem(request: HttpRequest, text: str, *, status: int = 400) -> HttpResponse:
    """A refused action: the problem named, nothing written."""
    context = {"problem": text, "back": reverse("dashboard:queue"), "title": "Queue"}
    return render(request, "dashboard/schedules_problem.html", context, status=status)
