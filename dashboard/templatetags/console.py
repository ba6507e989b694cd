"""Template filters of the console: durations in human units, percentages."""

from __future__ import annotations

from django import template

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
