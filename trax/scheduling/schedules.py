"""Schedules: ``Every`` (a fixed number of elapsed seconds) and ``Cron`` (wall-clock times in a
time zone), and the arithmetic that finds their next occurrence across daylight-saving changes.

Pure Python on croniter and zoneinfo; no Django. The DST rules are documented in
docs/scheduling.md ("Time zones and daylight-saving time").
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from trax.scheduling.errors import ScheduleError

__all__ = [
    "MAX_INTERVAL_SECONDS",
    "Cron",
    "CronSchedule",
    "Every",
    "IntervalSchedule",
    "Schedule",
    "check_timezone",
    "next_cron_time",
    "next_interval_slot",
    "normalise_cron",
]

# trax_manifest.interval_seconds is a PositiveIntegerField: a 32-bit column on PostgreSQL.
MAX_INTERVAL_SECONDS = 2_147_483_647

_INTERVAL_FIELD = "interval"
_CRON_FIELD = "cron_expression"
_TIMEZONE_FIELD = "timezone"

# croniter's hashed (H) and random (R) values: H needs a hash id we do not have, and R would give
# a different schedule every time the expression is read.
_HASHED_OR_RANDOM = re.compile(r"[hr](\(\d+-\d+\))?(/\d+)?", re.IGNORECASE)

# croniter reads a range whose ends are equal ("21-21") as a wrap-around over the whole field:
# every hour, not 21:00. Such ranges are refused.
_RANGE = re.compile(r"(\w+)-(\w+)(/\d+)?")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FULL_DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")

# Where croniter searches from when it checks that an expression matches at all.
_VALIDATION_START = datetime(2000, 1, 1)


# ── schedule values ──────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class IntervalSchedule:
    """Every ``seconds`` of elapsed time (not wall-clock time: DST changes do not move it)."""

    seconds: int

    def __post_init__(self) -> None:
        _check_interval(self.seconds, what="interval seconds")

    @property
    def interval(self) -> timedelta:
        """The interval as a timedelta."""
        return timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class CronSchedule:
    """A cron expression, stored normalised: six fields, seconds first, single spaces."""

    expression: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "expression", normalise_cron(self.expression))


Schedule = IntervalSchedule | CronSchedule


class Every:
    """Fixed-interval schedules: ``Every.minutes(5)``. The first run is at once."""

    @staticmethod
    def seconds(n: int) -> IntervalSchedule:
        """Every ``n`` seconds."""
        return _every(n, 1, "seconds")

    @staticmethod
    def minutes(n: int) -> IntervalSchedule:
        """Every ``n`` minutes."""
        return _every(n, 60, "minutes")

    @staticmethod
    def hours(n: int) -> IntervalSchedule:
        """Every ``n`` hours (elapsed time: across a DST change the wall-clock hour shifts)."""
        return _every(n, 3600, "hours")

    @staticmethod
    def days(n: int) -> IntervalSchedule:
        """Every ``n`` days of 24 elapsed hours; use ``Cron.daily`` for a wall-clock time."""
        return _every(n, 86400, "days")


class Cron:
    """Cron schedules evaluated in the manifest's time zone: ``Cron.daily(hour=2, minute=30)``.

    ``weekly`` takes 0-6 with 0 = Sunday (as cron does) or a day name ("mon", "monday", ...).
    """

    @staticmethod
    def secondly() -> CronSchedule:
        """Every second (in practice: every manager cycle)."""
        return CronSchedule("* * * * * *")

    @staticmethod
    def minutely(second: int = 0) -> CronSchedule:
        """Every minute, at ``second``."""
        _check_range("Cron.minutely", "second", second, 0, 59)
        return CronSchedule(f"{second} * * * * *")

    @staticmethod
    def hourly(minute: int = 0, second: int = 0) -> CronSchedule:
        """Every hour, at ``minute:second``."""
        _check_range("Cron.hourly", "minute", minute, 0, 59)
        _check_range("Cron.hourly", "second", second, 0, 59)
        return CronSchedule(f"{second} {minute} * * * *")

    @staticmethod
    def daily(hour: int = 0, minute: int = 0, second: int = 0) -> CronSchedule:
        """Every day at ``hour:minute:second`` local time."""
        _check_time("Cron.daily", hour, minute, second)
        return CronSchedule(f"{second} {minute} {hour} * * *")

    @staticmethod
    def weekly(
        day_of_week: int | str, hour: int = 0, minute: int = 0, second: int = 0
    ) -> CronSchedule:
        """Every week on ``day_of_week`` (0-6, 0 = Sunday, or "sun".."sat") at the given time."""
        day = _day_of_week(day_of_week)
        _check_time("Cron.weekly", hour, minute, second)
        return CronSchedule(f"{second} {minute} {hour} * * {day}")

    @staticmethod
    def monthly(day: int = 1, hour: int = 0, minute: int = 0, second: int = 0) -> CronSchedule:
        """Every month on ``day`` (1-31; months without that day are skipped) at the given time."""
        _check_range("Cron.monthly", "day", day, 1, 31)
        _check_time("Cron.monthly", hour, minute, second)
        return CronSchedule(f"{second} {minute} {hour} {day} * *")

    @staticmethod
    def expression(expr: str) -> CronSchedule:
        """A raw expression: five fields (minute first) or six (seconds first)."""
        return CronSchedule(expr)


# ── validation ───────────────────────────────────────────────────────────────────────────────


def normalise_cron(expression: str) -> str:
    """Validate a 5-field (minute first) or 6-field (seconds first) cron expression and return
    it as six single-spaced fields, seconds first ("*/5 * * * *" -> "0 */5 * * * *")."""
    if not isinstance(expression, str):
        raise ScheduleError(
            f"a cron expression must be a string; got {expression!r}", field=_CRON_FIELD
        )
    fields = expression.split()
    if not fields:
        raise ScheduleError("a cron expression must not be empty", field=_CRON_FIELD)
    if fields[0].startswith("@"):
        raise ScheduleError(
            f"cron expression {expression!r}: aliases such as '@daily' are not supported; "
            "use Cron.daily(), Cron.hourly(), ... or a 5- or 6-field expression",
            field=_CRON_FIELD,
        )
    if len(fields) == 5:
        fields = ["0", *fields]
    elif len(fields) != 6:
        raise ScheduleError(
            f"cron expression {expression!r} has {len(fields)} fields; expected 5 "
            "(minute hour day-of-month month day-of-week) or 6 with seconds first "
            "(second minute hour day-of-month month day-of-week)",
            field=_CRON_FIELD,
        )
    for value in fields:
        if any(_HASHED_OR_RANDOM.fullmatch(part) for part in value.split(",")):
            raise ScheduleError(
                f"cron expression {expression!r}: hashed (H) and random (R) values are not "
                "supported; a schedule must name its times",
                field=_CRON_FIELD,
            )
    for position, value in enumerate(fields):
        for part in value.split(","):
            ends = _RANGE.fullmatch(part)
            if ends and _field_value(ends[1], position) == _field_value(ends[2], position):
                raise ScheduleError(
                    f"cron expression {expression!r}: the range {part!r} starts and ends on the "
                    f"same value, which croniter reads as the whole field; write {ends[1]!r}",
                    field=_CRON_FIELD,
                )
    normalised = " ".join(fields)
    try:
        cron = croniter(normalised, _VALIDATION_START, second_at_beginning=True)
    except (ValueError, TypeError, LookupError) as exc:
        raise ScheduleError(
            f"invalid cron expression {expression!r}: {exc}", field=_CRON_FIELD
        ) from exc
    try:
        cron.get_next(datetime)
    except CroniterBadDateError as exc:
        raise ScheduleError(
            f"cron expression {expression!r} never matches a date (such as the 30th of February)",
            field=_CRON_FIELD,
        ) from exc
    return normalised


def _field_value(token: str, position: int) -> int | str:
    """A field value as croniter compares it: a number, or a month or day name's number."""
    token = token.lower()
    if token.isdigit():
        return int(token)
    names = {4: _MONTH_NAMES, 5: _DAY_NAMES}.get(position, ())
    if token in names:
        return names.index(token) + (1 if position == 4 else 0)
    return token


def check_timezone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name`` ("Europe/Berlin", "UTC"); unknown names are refused."""
    if not isinstance(name, str) or not name:
        raise ScheduleError(
            f"a time zone must be a non-empty IANA name such as 'Europe/Berlin'; got {name!r}",
            field=_TIMEZONE_FIELD,
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'",
            field=_TIMEZONE_FIELD,
        ) from exc


def _every(n: int, unit_seconds: int, unit: str) -> IntervalSchedule:
    _check_interval(n, what=f"Every.{unit}(n): n")
    if n * unit_seconds > MAX_INTERVAL_SECONDS:
        raise ScheduleError(
            f"Every.{unit}({n}) is longer than the longest interval, "
            f"{MAX_INTERVAL_SECONDS} seconds (about 68 years)",
            field=_INTERVAL_FIELD,
        )
    return IntervalSchedule(n * unit_seconds)


def _check_interval(value: object, *, what: str) -> None:
    if not _is_int(value) or value <= 0:  # type: ignore[operator]
        raise ScheduleError(f"{what} must be an int > 0; got {value!r}", field=_INTERVAL_FIELD)
    if value > MAX_INTERVAL_SECONDS:  # type: ignore[operator]
        raise ScheduleError(
            f"{what} must be at most {MAX_INTERVAL_SECONDS} (about 68 years); got {value!r}",
            field=_INTERVAL_FIELD,
        )


def _check_range(helper: str, name: str, value: object, low: int, high: int) -> None:
    if not _is_int(value) or not low <= value <= high:  # type: ignore[operator]
        raise ScheduleError(
            f"{helper}(): {name} must be an int from {low} to {high}; got {value!r}",
            field=_CRON_FIELD,
        )


def _check_time(helper: str, hour: object, minute: object, second: object) -> None:
    _check_range(helper, "hour", hour, 0, 23)
    _check_range(helper, "minute", minute, 0, 59)
    _check_range(helper, "second", second, 0, 59)


def _day_of_week(value: object) -> int:
    if isinstance(value, str):
        name = value.strip().lower()
        for names in (_DAY_NAMES, _FULL_DAY_NAMES):
            if name in names:
                return names.index(name)
    elif _is_int(value) and 0 <= value <= 6:  # type: ignore[operator]
        return value  # type: ignore[return-value]
    raise ScheduleError(
        "Cron.weekly(): day_of_week must be an int from 0 to 6 (0 = Sunday) or a day name "
        f"('sun', 'mon', ... or 'sunday', 'monday', ...); got {value!r}",
        field=_CRON_FIELD,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ScheduleError(f"{name} must be a timezone-aware datetime; got {value!r}", field=name)
    return value


# ── next occurrences ─────────────────────────────────────────────────────────────────────────


def next_interval_slot(anchor: datetime, interval_seconds: int, now: datetime) -> datetime:
    """The first time on the grid ``anchor + k * interval`` (k >= 0) strictly after ``now``, in
    UTC: where a schedule that skips missed occurrences resumes (``anchor`` if it is later)."""
    # In UTC: arithmetic on two datetimes sharing a ZoneInfo is wall-clock arithmetic, which
    # would move the grid by an hour across a DST change.
    start = _check_aware(anchor, "anchor").astimezone(UTC)
    current = _check_aware(now, "now").astimezone(UTC)
    _check_interval(interval_seconds, what="interval_seconds")
    if start > current:
        return start
    step = timedelta(seconds=interval_seconds)
    # timedelta // timedelta is exact integer arithmetic on microseconds: no float drift.
    return start + ((current - start) // step + 1) * step


def next_cron_time(expression: str, timezone: str | ZoneInfo, after: datetime) -> datetime:
    """The first occurrence of ``expression`` strictly after ``after`` (aware, any zone), read on
    the wall clock of ``timezone``; an aware UTC datetime. DST rules: docs/scheduling.md."""
    cron = _compile(expression)
    zone = timezone if isinstance(timezone, ZoneInfo) else check_timezone(timezone)
    after_utc = _check_aware(after, "after").astimezone(UTC)
    local = after_utc.astimezone(zone)  # .fold says which pass of a repeated hour we are in
    try:
        found = _next_first_pass(cron, zone, local.replace(tzinfo=None), after_utc)
        if cron.every_hour:
            second_pass = _next_second_pass(cron, zone, local)
            if second_pass is not None and second_pass < found:
                found = second_pass
    except CroniterBadDateError as exc:  # pragma: no cover - refused by normalise_cron
        raise ScheduleError(
            f"cron expression {expression!r} has no occurrence after {after.isoformat()}",
            field=_CRON_FIELD,
        ) from exc
    return found


@dataclass(frozen=True)
class _Cron:
    expression: str
    # The hour field matches every hour: the job keeps its elapsed-time cadence across DST
    # changes (fires in both passes of a repeated hour, not at all in a skipped one).
    every_hour: bool


@lru_cache(maxsize=4096)
def _compile(expression: str) -> _Cron:
    normalised = normalise_cron(expression)
    expanded = croniter(normalised, _VALIDATION_START, second_at_beginning=True).expanded
    # croniter keeps its own field order: minute, hour, day, month, day-of-week, second.
    hours = expanded[1]
    return _Cron(normalised, every_hour=hours == ["*"] or set(hours) == set(range(24)))


class _Kind(Enum):
    ONCE = "once"  # the wall time occurs exactly once
    REPEATED = "repeated"  # it occurs twice (the hour repeated when clocks go back)
    MISSING = "missing"  # it does not occur (the hour skipped when clocks go forward)


@dataclass(frozen=True)
class _WallTime:
    kind: _Kind
    first: datetime  # UTC; for MISSING, the first instant after the gap
    second: datetime  # UTC; == first unless REPEATED


def _resolve(wall: datetime, zone: ZoneInfo) -> _WallTime:
    """Where a naive wall-clock time falls on the UTC time line in ``zone``."""
    fold0 = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    fold1 = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if fold0 == fold1:
        return _WallTime(_Kind.ONCE, fold0, fold0)
    earlier, later = min(fold0, fold1), max(fold0, fold1)
    if fold0.astimezone(zone).replace(tzinfo=None) == wall:
        return _WallTime(_Kind.REPEATED, earlier, later)
    # In a gap zoneinfo reads the wall time with the offsets on either side of the transition,
    # which brackets the transition instant.
    gap_end = _transition(earlier, later, zone)
    return _WallTime(_Kind.MISSING, gap_end, gap_end)


def _transition(earlier: datetime, later: datetime, zone: ZoneInfo) -> datetime:
    """The whole-second instant in (earlier, later] where ``zone``'s UTC offset changes."""
    target = later.astimezone(zone).utcoffset()
    low, high = int(earlier.timestamp()), int(later.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


_per_thread = threading.local()
_MAX_CACHED_CRONITERS = 4096


def _next_match(cron: _Cron, wall: datetime) -> datetime:
    """The first naive wall time matching ``cron`` strictly after ``wall``."""
    # Building a croniter parses the expression and costs several times a search, so each
    # thread keeps one per expression (a croniter holds its position: not shareable).
    cache: dict[str, croniter] = _per_thread.__dict__.setdefault("croniters", {})
    iterator = cache.get(cron.expression)
    if iterator is None:
        if len(cache) >= _MAX_CACHED_CRONITERS:
            cache.clear()
        iterator = cache[cron.expression] = croniter(
            cron.expression, wall, second_at_beginning=True
        )
    found: datetime = iterator.get_next(datetime, start_time=wall)
    return found


def _next_first_pass(cron: _Cron, zone: ZoneInfo, wall: datetime, after: datetime) -> datetime:
    """The earliest occurrence after ``after`` counting only the first pass of repeated wall
    times, and for jobs bound to particular hours, the end of a gap that swallowed a match."""
    while True:
        candidate = _next_match(cron, wall)
        resolved = _resolve(candidate, zone)
        if resolved.kind is _Kind.MISSING:
            if not cron.every_hour and resolved.first > after:
                return resolved.first
            # Elapsed-time jobs skip the gap: resume at the first wall time after it.
            wall = resolved.first.astimezone(zone).replace(tzinfo=None) - timedelta(seconds=1)
        elif resolved.first > after:
            return resolved.first
        elif resolved.kind is _Kind.REPEATED:
            # ``after`` is in the second pass of this repeated hour, so the first pass of every
            # wall time in it is over: resume at the first wall time after the repeated hour.
            first_pass_offset = candidate.replace(tzinfo=zone, fold=0).utcoffset()
            assert first_pass_offset is not None
            clocks_back = _transition(resolved.first, resolved.second, zone)
            wall = clocks_back.replace(tzinfo=None) + first_pass_offset - timedelta(seconds=1)
        else:  # pragma: no cover - a later wall time that occurs once is a later instant
            wall = candidate


def _next_second_pass(cron: _Cron, zone: ZoneInfo, local: datetime) -> datetime | None:
    """For elapsed-time jobs while ``local`` is inside a repeated hour: the next match in the
    second pass of that hour, if there is one."""
    wall = local.replace(tzinfo=None)
    other = local.replace(fold=1 - local.fold)
    if other.utcoffset() == local.utcoffset():
        return None  # not inside a repeated hour
    if local.fold == 0:
        # Still in the first pass: the second pass starts at the transition, where the wall
        # clock is set back to the start of the repeated hour.
        start = _transition(local.astimezone(UTC), other.astimezone(UTC), zone).astimezone(
            zone
        ).replace(tzinfo=None) - timedelta(seconds=1)
    else:
        start = wall
    resolved = _resolve(_next_match(cron, start), zone)
    if resolved.kind is _Kind.REPEATED:
        return resolved.second
    return None
