"""Template filters of the console: durations in human units, percentages, moments,
navigation links."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import Any

from django import template
from django.template import Context
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from dashboard.bulk.actions import BulkAction, page_actions

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """``0.25`` -> "250 ms", ``75`` -> "1 min 15 s", ``None`` -> "—"."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@register.filter
def percent(fraction: float | None) -> str:
    """``0.9731`` -> "97.3 %"; ``None`` -> "—"."""
    return "—" if fraction is None else f"{fraction * 100:.1f} %"


@register.filter
def moment(value: datetime | None) -> str:
    """A time as ``<time>``: relative ("12 s ago", "in 5 min"), the absolute time to the second
    on hover; ``None`` -> "—"."""
    if value is None:
        return "—"
    seconds = (value - timezone.now()).total_seconds()
    relative = f"in {duration(seconds)}" if seconds > 0.5 else f"{duration(-seconds)} ago"
    if abs(seconds) <= 0.5:
        relative = "now"
    absolute = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.isoformat(), absolute, relative
    )


@register.simple_tag(takes_context=True)
def nav_link(context: Context, name: str, label: str) -> str:
    """A navigation link to ``name``, marked current on its page and the pages under it."""
    url = reverse(name)
    path = context["request"].path
    here = path == url if name == "dashboard:overview" else path.startswith(url)
    current = mark_safe(' aria-current="page"') if here else ""
    return format_html('<a href="{}"{}>{}</a>', url, current, label)


@register.simple_tag(takes_context=True)
def bulk_actions(context: Context, page: str) -> list[BulkAction]:
    """The bulk actions ``page`` offers on all matching objects that the user may take."""
    user = context["request"].user
    return [action for action in page_actions(page) if user.has_perm(action.permission)]


@register.filter
def ticking(seconds: float | None) -> str:
    """A duration still growing: the page's script advances it every second, no query."""
    if seconds is None:
        return "—"
    return format_html('<span data-elapsed="{}">{}</span>', f"{seconds:.3f}", duration(seconds))


@register.filter
def took(run: Any, now: datetime | None) -> str:
    """How long a run took, or has been running so far (ticking); "—" before it started."""
    if run.start_time is None:
        return "—"
    if run.end_time is not None:
        return duration(max((run.end_time - run.start_time).total_seconds(), 0.0))
    if now is None or run.train_state != "in_progress":
        return "—"
    return ticking(max((now - run.start_time).total_seconds(), 0.0))


@register.filter
def junction_for(run: Any, now: datetime | None) -> str:
    """The junction a running run is in and for how long (ticking)."""
    if not run.currently_running_junction:
        return "—"
    since = run.junction_started_at
    if since is None or now is None:
        return str(run.currently_running_junction)
    return format_html(
        "{} · {}",
        run.currently_running_junction,
        ticking(max((now - since).total_seconds(), 0.0)),
    )


@register.filter
def term(field: str, value: Any) -> str:
    """A filter box term, quoted as the box reads it: ``"manifest"|term:"a b"`` ->
    ``manifest:'a b'`` (urlencode it for a link)."""
    return f"{field}:{shlex.quote(str(value))}"
