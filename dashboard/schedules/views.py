"""The Schedules pages: every manifest with its schedule in words and how it fared; trigger,
enable, disable and cancel on one or selected manifests (all matching goes through the bulk
runner); a manifest's own page with its edit form; the dependency graph."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.access import console_page, refusal
from dashboard.rendering import render_page
from dashboard.schedules.actions import ACTIONS, MANAGE
from dashboard.schedules.forms import ScheduleForm, problems_of, snapshot
from dashboard.schedules.graph import dependency_graphs
from dashboard.schedules.listing import schedule_detail, schedules_page
from dashboard.schedules.search import ScheduleSearchError, annotated, parse_schedule_search
from trax.models import Manifest
from trax.scheduling.edits import save_manifest_edit
from trax.store import audit_record, run_records_alias


@console_page
@require_http_methods(["GET"])
def index(request: HttpRequest) -> HttpResponse:
    """Every manifest matching the filter, a page at a time by name; a filter it cannot read
    is an error naming the term, with nothing listed."""
    text = request.GET.get("q", "")
    context: dict[str, Any] = {"q": text, "actions": list(ACTIONS.values())}
    try:
        search = parse_schedule_search(text)
    except ScheduleSearchError as error:
        context["error"] = str(error)
        return render_page(request, "schedules", context, status=400)
    using = run_records_alias()
    matched = search.apply(Manifest.objects.using(using))
    context["page"] = schedules_page(matched, after=request.GET.get("after") or None, using=using)
    return render_page(request, "schedules", context)


@console_page
@require_http_methods(["GET"])
def detail(request: HttpRequest, manifest_id: int) -> HttpResponse:
    """One manifest: its schedule, newest runs, what blocks it, and its edit form."""
    manifest = _manifest(manifest_id)
    return _detail_page(request, manifest, ScheduleForm(instance=_editable(manifest_id)))


@console_page
@require_http_methods(["GET"])
def graph(request: HttpRequest) -> HttpResponse:
    """The dependency graph of manifests and of their groups, drawn on the server."""
    graphs = dependency_graphs(using=run_records_alias())
    return render_page(request, "schedules_graph", {"g": graphs})


@console_page
@require_POST
def act_selected(request: HttpRequest) -> HttpResponse:
    """An action on the ticked manifests (``ids``); one audit row with the count."""
    return _act(request, request.POST.get("action", ""), request.POST.getlist("ids"))


@console_page
@require_POST
def act_one(request: HttpRequest, manifest_id: int, action: str) -> HttpResponse:
    """An action on one manifest; audited."""
    return _act(request, action, [str(manifest_id)])


@console_page
@require_POST
def edit(request: HttpRequest, manifest_id: int) -> HttpResponse:
    """Save the schedule and options (needs ``trax.manage_schedules``), checked as the Python
    API checks them; a problem names its field and nothing is saved. Audited before/after."""
    refused = refusal(request, MANAGE, "Editing schedules")
    if refused is not None:
        return refused
    manifest = _editable(manifest_id)
    form = ScheduleForm(request.POST, instance=manifest)
    before = snapshot(manifest, list(form.fields))
    if not form.is_valid():
        messages.error(request, f"Nothing saved. {problems_of(form)}")
        return _detail_page(request, _manifest(manifest_id), form, status=400)
    changed = form.changed_data
    if not changed:
        messages.info(request, f"Nothing changed in {manifest.external_id}.")
        return redirect("dashboard:schedule", manifest_id=manifest_id)
    save_manifest_edit(form.instance, changed, now=timezone.now())
    after = snapshot(form.instance, changed)
    audit_record(
        actor=request.user.get_username(),
        action="schedules.edit",
        target=f"manifest:{manifest_id}",
        detail={
            "manifest": manifest.external_id,
            "before": {name: before[name] for name in changed},
            "after": after,
            "from": "console",
        },
        using=run_records_alias(),
    )
    messages.success(request, f"Saved {manifest.external_id}: {', '.join(changed)} changed.")
    return redirect("dashboard:schedule", manifest_id=manifest_id)


def _act(request: HttpRequest, name: str, raw_ids: list[str]) -> HttpResponse:
    action = ACTIONS.get(name)
    if action is None:
        known = ", ".join(ACTIONS)
        return _problem(request, f"There is no schedule action {name!r} (there are: {known}).")
    refused = refusal(request, action.permission, f"{action.label} on schedules")
    if refused is not None:
        return refused
    if not raw_ids:
        return _problem(request, "No schedule was ticked: tick the ones to act on.")
    bad = [value for value in raw_ids if not value.isdigit()]
    if bad:
        return _problem(request, f"Not a schedule id: {', '.join(map(repr, bad))}.")
    ids = sorted({int(value) for value in raw_ids})
    found = set(Manifest.objects.filter(id__in=ids).values_list("id", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        return _problem(
            request, f"No schedule has the id(s) {', '.join(map(str, missing))}.", status=404
        )
    actor = request.user.get_username()
    count = action.apply(ids, actor, {})
    audit_record(
        actor=actor,
        action=f"schedules.{name}",
        target=f"manifest:{ids[0]}" if len(ids) == 1 else "manifests",
        detail={"ids": ids, "count": count, "from": "console"},
        using=run_records_alias(),
    )
    messages.success(request, _done(name, count, len(ids)))
    return _back(request)


def _done(name: str, count: int, asked: int) -> str:
    schedules = f"{asked} schedule{'s' * (asked != 1)}"
    if name == "trigger":
        return f"Triggered {schedules}: a run of each is queued now."
    if name == "cancel":
        return f"Cancelled {count} running run{'s' * (count != 1)} of {schedules}."
    verb = f"{name}d"
    unchanged = asked - count
    already = f" ({unchanged} already {verb})" if unchanged else ""
    return f"{verb.capitalize()} {count} of {schedules}{already}."


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("dashboard:schedules")


def _problem(request: HttpRequest, text: str, *, status: int = 400) -> HttpResponse:
    """A refused action: the problem named, nothing written."""
    context = {"problem": text, "back": reverse("dashboard:schedules"), "title": "Schedules"}
    return render(request, "dashboard/schedules_problem.html", context, status=status)


def _manifest(manifest_id: int) -> Manifest:
    found = (
        annotated(Manifest.objects.using(run_records_alias()))
        .select_related("group", "depends_on")
        .filter(pk=manifest_id)
        .first()
    )
    if found is None:
        raise Http404(f"no schedule {manifest_id}")
    return found


def _editable(manifest_id: int) -> Manifest:
    """The manifest as the edit writes it (the default alias, without annotations)."""
    found = Manifest.objects.select_related("group", "depends_on").filter(pk=manifest_id).first()
    if found is None:
        raise Http404(f"no schedule {manifest_id}")
    return found


def _detail_page(
    request: HttpRequest, manifest: Manifest, form: ScheduleForm, *, status: int = 200
) -> HttpResponse:
    context = {
        "d": schedule_detail(manifest, using=run_records_alias()),
        "form": form,
        "actions": list(ACTIONS.values()),
    }
    return render_page(request, "schedule", context, status=status)
