"""A manifest's schedule in words: "every 10 minutes", "at 03:00 Europe/Paris every day",
"after nightly-extract succeeds". Common cron shapes are worded; any other shows its text."""

from __future__ import annotations

from datetime import datetime

_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def describe_schedule(
    schedule_type: str,
    *,
    interval_seconds: int | None = None,
    cron_expression: str = "",
    timezone: str = "UTC",
    run_at: datetime | None = None,
    parent: str | None = None,
) -> str:
    """The schedule of a manifest (its columns, ``parent`` its parent's external id) in words."""
    if schedule_type == "interval":
        return describe_every(interval_seconds or 0)
    if schedule_type == "cron":
        return describe_cron(cron_expression, timezone)
    if schedule_type == "once":
        when = run_at.strftime("%Y-%m-%d %H:%M:%S %Z") if run_at else "a time not set"
        return f"once, at {when}"
    if schedule_type == "dependent":
        return f"after {parent or '(no parent)'} succeeds"
    if schedule_type == "dormant_dependent":
        return f"dormant until {parent or '(no parent)'} activates it"
    return "only when triggered"


def describe_every(seconds: int) -> str:
    """``600`` -> "every 10 minutes", ``60`` -> "every minute", ``90`` -> "every 90 seconds"."""
    for size, unit in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {seconds} seconds"


def describe_cron(expression: str, timezone: str = "UTC") -> str:
    """A normalised (seconds first) or five-field cron expression in words, or ``cron <text>
    (<zone>)`` for a shape it does not word."""
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    worded = _worded(fields, timezone) if len(fields) == 6 else None
    return worded or f"cron {expression} ({timezone})"


def _worded(fields: list[str], zone: str) -> str | None:
    second, minute, hour, day, month, weekday = fields
    if month != "*":
        return None
    if second == "0" and minute == "*" and hour == "*" and day == "*" and weekday == "*":
        return "every minute"
    if second == "*" and minute == "*" and hour == "*" and day == "*" and weekday == "*":
        return "every second"
    if second != "0" or (day != "*" and weekday != "*"):
        return None
    step = _step(minute)
    if step is not None and hour == "*" and day == "*" and weekday == "*":
        return describe_every(step * 60)
    if not minute.isdigit():
        return None
    hour_step = _step(hour)
    if hour_step is not None and day == "*" and weekday == "*":
        past = f" at {int(minute)} past" if minute != "0" else ""
        return f"{describe_every(hour_step * 3600)}{past}"
    if hour == "*" and day == "*" and weekday == "*":
        return f"every hour at {int(minute):02d} past"
    if not hour.isdigit():
        return None
    at = f"at {int(hour):02d}:{int(minute):02d} {zone}"
    if day != "*":
        return f"{at} on day {int(day)} of every month" if day.isdigit() else None
    if weekday == "*":
        return f"{at} every day"
    days = _weekdays(weekday)
    if days is None:
        return None
    if days == [1, 2, 3, 4, 5]:
        return f"{at} on weekdays"
    if days == [0, 6]:
        return f"{at} on weekends"
    return f"{at} every {_listed([_DAYS[d] for d in days])}"


def _step(value: str) -> int | None:
    """``*/15`` -> 15 (and ``0/15`` likewise); anything else -> None."""
    start, _, step = value.partition("/")
    if start in ("*", "0") and step.isdigit() and int(step) > 0:
        return int(step)
    return None


def _weekdays(value: str) -> list[int] | None:
    days: set[int] = set()
    for part in value.lower().split(","):
        first, dash, last = part.partition("-")
        start, end = _weekday(first), _weekday(last) if dash else _weekday(first)
        if start is None or end is None or end < start:
            return None
        days.update(range(start, end + 1))
    return sorted(day % 7 for day in days)


def _weekday(value: str) -> int | None:
    if value.isdigit() and int(value) <= 7:
        return int(value)
    return _DAY_NAMES.index(value) if value in _DAY_NAMES else None


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
