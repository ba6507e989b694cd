"""The Dead letters page: letters awaiting a person, retried or acknowledged, each with its
latest failure and failed attempts; retry and acknowledge (with a note) one or the ticked
letters here, all matching through the bulk runner. Both need ``trax.resolve_dead_letter``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dashboard.access import console_page, refusal
from dashboard.back import back_to
from dashboard.dead_letters.actions import ACTIONS, still_awaiting
from dashboard.dead_letters.listing import dead_letters_page
from dashboard.dead_letters.search import matching_letters
from dashboard.rendering import render_page
from dashboard.runs import COUNT_CAP
from dashboard.ticked import page_key, ticked_ids
from trax.models import DeadLetter
from trax.store import audit_record, run_records_alias


@console_page
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The letters matching the filter, newest first, a page at a time by id; a filter it
    cannot read is an error naming the term, with nothing listed."""
    text = request.GET.get("q", "")
    context: dict[str, Any] = {
        "q": text,
        "cap": COUNT_CAP,
        "may_resolve": request.user.has_perm("trax.resolve_dead_letter"),
    }
    try:
        matched = matching_letters(text)
        before = page_key(request.GET.get("before"), "dead letter")
    except ValueError as error:
        context["error"] = str(error)
        return render_page(request, "dead_letters", context, status=400)
    context["page"] = dead_letters_page(matched, before=before, using=run_records_alias())
    return render_page(request, "dead_letters", context)


@console_page
@require_POST
def act_selected(request: HttpRequest) -> HttpResponse:
    """Retry or acknowledge the ticked letters (``ids``); one audit row with the count."""
    return _act(request, request.POST.get("action", ""), request.POST.getlist("ids"))


@console_page
@require_POST
def act_one(request: HttpRequest, letter_id: int, action: str) -> HttpResponse:
    """Retry or acknowledge one letter; audited."""
    return _act(request, action, [str(letter_id)])


def _act(request: HttpRequest, name: str, raw_ids: list[str]) -> HttpResponse:
    action = ACTIONS.get(name)
    if action is None:
        known = ", ".join(ACTIONS)
        return _problem(
            request, f"There is no dead letter action {name[:40]!r} (there are: {known})."
        )
    refused = refusal(request, action.permission, f"{action.label} on dead letters")
    if refused is not None:
        return refused
    note = request.POST.get("note", "")
    try:
        ids = ticked_ids(raw_ids, "dead letter")
        action.apply([], "", {"note": note})  # validates the note, writes nothing
    except ValueError as error:
        return _problem(request, str(error))
    found = set(DeadLetter.objects.filter(id__in=ids).values_list("id", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(map(str, missing[:20]))
        return _problem(request, f"No dead letter has the id(s) {shown}.", status=404)
    awaiting = still_awaiting(ids)
    if not awaiting:
        messages.info(request, _already(len(ids)))
        return back_to(request, "dashboard:dead_letters")
    actor = request.user.get_username()
    count = action.apply(awaiting, actor, {"note": note})
    audit_record(
        actor=actor,
        action=f"dead_letters.{name}",
        target=f"dead_letter:{ids[0]}" if len(ids) == 1 else "dead_letters",
        detail={"ids": awaiting, "count": count, "note": note.strip(), "from": "console"},
        using=run_records_alias(),
    )
    done = "Retried" if name == "retry" else "Acknowledged"
    text = f"{done} {count} dead letter{'s' * (count != 1)}"
    text += ": their schedules are queued again." if name == "retry" else "."
    skipped = len(ids) - len(awaiting)
    if skipped:
        text += f" {_already(skipped)}"
    messages.success(request, text)
    return back_to(request, "dashboard:dead_letters")


def _already(count: int) -> str:
    return f"{count} already resolved, left as they were."


def _problem(request: HttpRequest, text: str, *, status: int = 400) -> HttpResponse:
    """A refused action: the problem named, nothing written."""
    context = {"problem": text, "back": reverse("dashboard:dead_letters"), "title": "Dead letters"}
    return render(request, "dashboard/schedules_problem.html", context, status=status)
