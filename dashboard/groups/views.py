"""The Groups page: each manifest group with its members, limits and runs active now; edit its
dispatch controls, trigger all its members, cancel all its running runs — each audited."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.access import console_page, refusal
from dashboard.groups.listing import group_rows
from dashboard.rendering import render_page
from dashboard.schedules.actions import CANCEL, MANAGE
from dashboard.schedules.forms import GroupForm, problems_of, snapshot
from trax.models import ManifestGroup
from trax.scheduling.runtime import scheduler
from trax.store import audit_record, manifest_group_save, run_records_alias


@console_page
@require_http_methods(["GET"])
def index(request: HttpRequest) -> HttpResponse:
    """Every group: members, cap, priority, switch, active runs now."""
    return render_page(request, "groups", {"rows": group_rows(using=run_records_alias())})


@console_page
@require_http_methods(["GET"])
def detail(request: HttpRequest, group_id: int) -> HttpResponse:
    """One group and its edit form."""
    return _detail_page(request, group_id, GroupForm(instance=_group(group_id)))


@console_page
@require_POST
def edit(request: HttpRequest, group_id: int) -> HttpResponse:
    """Save the group's controls (needs ``trax.manage_schedules``), checked as the admin and
    the Python API check them; a problem names its field and nothing is saved."""
    refused = refusal(request, MANAGE, "Editing groups")
    if refused is not None:
        return refused
    group = _group(group_id)
    form = GroupForm(request.POST, instance=group)
    before = snapshot(group, list(form.fields))
    if not form.is_valid():
        messages.error(request, f"Nothing saved. {problems_of(form)}")
        return _detail_page(request, group_id, form, status=400)
    changed = form.changed_data
    if not changed:
        messages.info(request, f"Nothing changed in group {before['name']}.")
        return redirect("dashboard:group", group_id=group_id)
    manifest_group_save(form.instance, using="default")
    audit_record(
        actor=request.user.get_username(),
        action="groups.edit",
        target=f"group:{group_id}",
        detail={
            "before": {name: before[name] for name in changed},
            "after": snapshot(form.instance, changed),
            "from": "console",
        },
        using=run_records_alias(),
    )
    messages.success(request, f"Saved group {form.instance.name}: {', '.join(changed)} changed.")
    return redirect("dashboard:group", group_id=group_id)


@console_page
@require_POST
def trigger(request: HttpRequest, group_id: int) -> HttpResponse:
    """Queue a run of every enabled, non-dependent member with nothing queued (needs
    ``trax.manage_schedules``); audited with the count."""
    refused = refusal(request, MANAGE, "Triggering a group")
    if refused is not None:
        return refused
    group = _group(group_id)
    actor = request.user.get_username()
    count = scheduler.as_actor(actor, audited=False).trigger_group(group.name)
    audit_record(
        actor=actor,
        action="groups.trigger",
        target=f"group:{group_id}",
        detail={"group": group.name, "triggered": count, "from": "console"},
        using=run_records_alias(),
    )
    messages.success(
        request, f"Group {group.name}: {count} schedule{'s' * (count != 1)} queued to run now."
    )
    return _back(request, group_id)


@console_page
@require_POST
def cancel(request: HttpRequest, group_id: int) -> HttpResponse:
    """Cancel every pending or running run of the group's members (needs
    ``trax.cancel_run``); audited with the count."""
    refused = refusal(request, CANCEL, "Cancelling a group's runs")
    if refused is not None:
        return refused
    group = _group(group_id)
    actor = request.user.get_username()
    count = scheduler.as_actor(actor, audited=False).cancel_group(group.name)
    audit_record(
        actor=actor,
        action="groups.cancel",
        target=f"group:{group_id}",
        detail={"group": group.name, "cancelled": count, "from": "console"},
        using=run_records_alias(),
    )
    if count:
        messages.success(request, f"Group {group.name}: {count} run{'s' * (count != 1)} cancelled.")
    else:
        messages.info(request, f"Group {group.name} had nothing running: nothing to cancel.")
    return _back(request, group_id)


def _back(request: HttpRequest, group_id: int) -> HttpResponse:
    if request.POST.get("next") == "group":
        return redirect("dashboard:group", group_id=group_id)
    return redirect("dashboard:groups")


def _group(group_id: int) -> ManifestGroup:
    found = ManifestGroup.objects.filter(pk=group_id).first()
    if found is None:
        raise Http404(f"no group {group_id}")
    return found


def _detail_page(
    request: HttpRequest, group_id: int, form: GroupForm, *, status: int = 200
) -> HttpResponse:
    rows = group_rows(using=run_records_alias(), only=group_id)
    if not rows:
        raise Http404(f"no group {group_id}")
    return render_page(request, "group", {"row": rows[0], "form": form}, status=status)
