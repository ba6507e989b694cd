"""The Settings page: every runtime setting with its value in force, its default and where the
value comes from; staff holding ``trax.change_runtime_settings`` change them here, checked as
``settings.TRAX`` is checked (the admin's form), written by the store with one audit row."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from dashboard.access import console_page, refusal
from dashboard.rendering import render_page
from dashboard.schedules.forms import problems_of
from trax.admin.forms import RuntimeSettingsForm
from trax.store import run_records_alias, runtime_settings_states, runtime_settings_update

CHANGE = "trax.change_runtime_settings"


@console_page
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    """GET: the settings and the form. POST: save what changed (nothing when a value is bad:
    the form again, each problem under its field)."""
    using = run_records_alias()
    _, row = runtime_settings_states(using=using)
    if request.method != "POST":
        return _page(request, RuntimeSettingsForm(instance=row), using)
    refused = refusal(request, CHANGE, "Changing runtime settings")
    if refused is not None:
        return refused
    form = RuntimeSettingsForm(request.POST, instance=row)
    if not form.is_valid():
        messages.error(request, f"Nothing saved. {problems_of(form)}")
        return _page(request, form, using, status=400)
    changed = runtime_settings_update(
        {name: form.cleaned_data[name] for name in form.changed_data},
        actor=request.user.get_username(),
        using=using,
    )
    if changed:
        names = ", ".join(name.upper() for name in changed)
        messages.success(
            request, f"Saved {names}: every scheduler and worker applies it within its interval."
        )
    else:
        messages.info(request, "Nothing changed.")
    return redirect("dashboard:settings")


def _page(
    request: HttpRequest, form: RuntimeSettingsForm, using: str, status: int = 200
) -> HttpResponse:
    states, row = runtime_settings_states(using=using)
    response = render_page(request, "settings", {"states": states, "row": row, "form": form})
    response.status_code = status
    return response
