"""Who may see the console: active staff holding ``trax.view_console``; each kind of act has a
permission of its own (``trax.cancel_run``, ``trax.resolve_dead_letter``,
``trax.manage_schedules``, ``trax.change_runtime_settings``), checked where it is done."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

VIEW = "trax.view_console"


def may_view(user: Any) -> bool:
    """Whether ``user`` may see the console (pages and the live socket)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(VIEW)
    )


def console_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous and non-staff users go to the admin's login form; staff without the view
    permission get a 403 naming it."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_view(request.user):
            return HttpResponseForbidden(
                "You may not view the trax console: it needs the permission "
                "'Can view the trax console' (trax.view_console)."
            )
        return view(request, *args, **kwargs)

    return staff_member_required(guarded)


def refusal(request: HttpRequest, permission: str, doing: str) -> HttpResponse | None:
    """A 403 naming ``permission`` when the user lacks it, else ``None``.

    ``doing`` says what was refused, e.g. ``"Cancelling runs"``."""
    if request.user.has_perm(permission):
        return None
    return HttpResponseForbidden(f"{doing} needs the permission {permission}.")
