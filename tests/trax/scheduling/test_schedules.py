"""Every / Cron schedules, cron normalisation, time zones and the next-occurrence arithmetic,
daylight-saving changes included (the rules are in docs/scheduling.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from trax.scheduling.errors import ScheduleError
from trax.scheduling.schedules import (
    MAX_INTERVAL_SECONDS,
    Cron,
    CronSchedule,
    Every,
    IntervalSchedule,
    check_timezone,
    next_cron_time,
    next_interval_slot,
    normalise_cron,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone, fold=fold)


def occurrences(
    expression: str, zone: ZoneInfo, after: datetime, until: datetime
) -> list[datetime]:
    """Successive next_cron_time results from ``after`` up to ``until``."""
    found: list[datetime] = []
    current = next_cron_time(expression, zone.key, after)
    while current <= until:
        found.append(current)
        current = next_cron_time(expression, zone.key, current)
    return found


def wall(moment: datetime, zone: ZoneInfo) -> str:
    """A UTC instant as local wall time with its offset: "2026-03-29 03:00 +0200"."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %z")


# ── Every ────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [
        (Every.seconds(30), 30),
        (Every.minutes(5), 300),
        (Every.hours(2), 7200),
        (Every.days(1), 86400),
    ],
)
def test_every_gives_an_interval_in_seconds(schedule: IntervalSchedule, seconds: int) -> None:
    assert schedule == IntervalSchedule(seconds)
    assert schedule.interval == timedelta(seconds=seconds)


@pytest.mark.parametrize("helper", ["seconds", "minutes", "hours", "days"])
@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "5", None])
def test_every_refuses_anything_but_a_positive_int(helper: str, bad: Any) -> None:
    with pytest.raises(ScheduleError, match=rf"Every\.{helper}\(n\): n must be an int > 0") as info:
        getattr(Every, helper)(bad)
    assert info.value.field == "interval"


def test_every_refuses_an_interval_too_long_to_store() -> None:
    with pytest.raises(ScheduleError, match=r"Every\.days\(100000\) is longer") as info:
        Every.days(100_000)
    assert info.value.field == "interval"


@pytest.mark.parametrize("bad", [0, -5, True, 2.0, "10", None, MAX_INTERVAL_SECONDS + 1])
def test_an_interval_schedule_refuses_bad_seconds(bad: Any) -> None:
    with pytest.raises(ScheduleError, match="interval seconds must be") as info:
        IntervalSchedule(bad)
    assert info.value.field == "interval"


def test_an_interval_schedule_is_a_frozen_value() -> None:
    schedule = Every.minutes(1)
    with pytest.raises(AttributeError):
        schedule.seconds = 5  # type: ignore[misc]
    assert {Every.seconds(60), Every.minutes(1)} == {IntervalSchedule(60)}


# ── Cron helpers ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("schedule", "expression"),
    [
        (Cron.secondly(), "* * * * * *"),
        (Cron.minutely(), "0 * * * * *"),
        (Cron.minutely(second=15), "15 * * * * *"),
        (Cron.hourly(), "0 0 * * * *"),
        (Cron.hourly(minute=30, second=5), "5 30 * * * *"),
        (Cron.daily(), "0 0 0 * * *"),
        (Cron.daily(hour=2, minute=30), "0 30 2 * * *"),
        (Cron.weekly(1, hour=9), "0 0 9 * * 1"),
        (Cron.weekly("mon", hour=9), "0 0 9 * * 1"),
        (Cron.weekly("Sunday"), "0 0 0 * * 0"),
        (Cron.weekly("SAT", 23, 59, 59), "59 59 23 * * 6"),
        (Cron.monthly(), "0 0 0 1 * *"),
        (Cron.monthly(day=31, hour=6), "0 0 6 31 * *"),
        (Cron.expression("*/5 * * * *"), "0 */5 * * * *"),
        (Cron.expression("30 * * * * *"), "30 * * * * *"),
    ],
)
def test_cron_helpers_build_normalised_seconds_first_expressions(
    schedule: CronSchedule, expression: str
) -> None:
    assert schedule.expression == expression


@pytest.mark.parametrize(
    ("helper", "kwargs", "argument"),
    [
        (Cron.minutely, {"second": 60}, "second"),
        (Cron.minutely, {"second": -1}, "second"),
        (Cron.hourly, {"minute": 60}, "minute"),
        (Cron.hourly, {"second": 60}, "second"),
        (Cron.hourly, {"minute": True}, "minute"),
        (Cron.daily, {"hour": 24}, "hour"),
        (Cron.daily, {"hour": -1}, "hour"),
        (Cron.daily, {"minute": 60}, "minute"),
        (Cron.daily, {"second": 1.5}, "second"),
        (Cron.daily, {"hour": "2"}, "hour"),
        (Cron.weekly, {"day_of_week": 1, "hour": 24}, "hour"),
        (Cron.weekly, {"day_of_week": 1, "minute": -1}, "minute"),
        (Cron.weekly, {"day_of_week": 1, "second": 60}, "second"),
        (Cron.weekly, {"day_of_week": 7}, "day_of_week"),
        (Cron.weekly, {"day_of_week": -1}, "day_of_week"),
        (Cron.weekly, {"day_of_week": "funday"}, "day_of_week"),
        (Cron.weekly, {"day_of_week": True}, "day_of_week"),
        (Cron.weekly, {"day_of_week": 1.0}, "day_of_week"),
        (Cron.monthly, {"day": 0}, "day"),
        (Cron.monthly, {"day": 32}, "day"),
        (Cron.monthly, {"day": 1, "hour": 24}, "hour"),
        (Cron.monthly, {"day": 1, "minute": 60}, "minute"),
        (Cron.monthly, {"day": 1, "second": -1}, "second"),
    ],
)
def test_cron_helpers_refuse_out_of_range_arguments_naming_them(
    helper: Callable[..., CronSchedule], kwargs: dict[str, Any], argument: str
) -> None:
    with pytest.raises(ScheduleError, match=rf"Cron\.{helper.__name__}\(\): {argument} must be"):
        helper(**kwargs)


def test_cron_helper_errors_are_about_the_cron_expression_field() -> None:
    with pytest.raises(ScheduleError) as info:
        Cron.daily(hour=25)
    assert info.value.field == "cron_expression"


def test_five_and_six_field_forms_of_one_schedule_are_equal() -> None:
    assert Cron.expression("30 2 * * *") == Cron.expression("0 30 2 * * *") == Cron.daily(2, 30)


# ── normalise_cron ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("expression", "normalised"),
    [
        ("* * * * *", "0 * * * * *"),
        ("*/5 * * * *", "0 */5 * * * *"),
        ("30 2 * * 1-5", "0 30 2 * * 1-5"),
        ("  0   30\t2 * *   * ", "0 30 2 * * *"),
        ("*/10 * * * * *", "*/10 * * * * *"),
        ("0 0 9 * * mon-fri", "0 0 9 * * mon-fri"),
        ("0 0 0 L * *", "0 0 0 L * *"),
        ("0 0 0 29 2 *", "0 0 0 29 2 *"),
        ("0 0 22-2 * * *", "0 0 22-2 * * *"),
        ("0 0 9 * jan-dec mon-sun", "0 0 9 * jan-dec mon-sun"),
    ],
)
def test_normalise_cron_returns_six_single_spaced_fields_seconds_first(
    expression: str, normalised: str
) -> None:
    assert normalise_cron(expression) == normalised


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        (None, "must be a string"),
        (5, "must be a string"),
        ("* * * *", "has 4 fields"),
        ("0 0 0 * * * 2026", "has 7 fields"),
        ("@daily", "aliases such as '@daily' are not supported"),
        ("60 * * * * *", "invalid cron expression '60 \\* \\* \\* \\* \\*'"),
        ("* 60 * * * *", "invalid cron expression"),
        ("* * 24 * * *", "invalid cron expression"),
        ("0 0 0 * * 8", "invalid cron expression"),
        ("0 0 0 32 * *", "invalid cron expression"),
        ("a b c d e", "invalid cron expression"),
        ("*/0 * * * *", "invalid cron expression"),
        ("H * * * *", "hashed \\(H\\) and random \\(R\\) values are not supported"),
        ("R * * * *", "hashed \\(H\\) and random \\(R\\) values are not supported"),
        ("0 0 r(0-5) * * *", "hashed \\(H\\) and random \\(R\\) values are not supported"),
        ("0 0 30 2 *", "never matches a date"),
        ("0 21-21 * * *", "the range '21-21' starts and ends on the same value"),
        ("0 0 0 4-04 * *", "the range '4-04' starts and ends on the same value"),
        ("0 0 0 * mar-3 *", "the range 'mar-3' starts and ends on the same value"),
        ("0 0 9 * * MON-mon", "the range 'MON-mon' starts and ends on the same value"),
        ("*/5 5-5/2 * * * *", "the range '5-5/2' starts and ends on the same value"),
    ],
)
def test_normalise_cron_refuses_bad_expressions_saying_what_is_wrong(
    expression: Any, problem: str
) -> None:
    with pytest.raises(ScheduleError, match=problem) as info:
        normalise_cron(expression)
    assert info.value.field == "cron_expression"


def test_a_cron_error_names_the_expression() -> None:
    with pytest.raises(ScheduleError, match="'0 0 0 30 2 \\*' never matches"):
        CronSchedule("0 0 0 30 2 *")


# ── check_timezone ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_check_timezone_returns_the_zone(name: str) -> None:
    assert check_timezone(name) == ZoneInfo(name)


@pytest.mark.parametrize(
    "name", ["Nope/Zone", "Europe", " UTC", "Europe/Berlin ", "../etc/passwd", "/etc/localtime"]
)
def test_check_timezone_refuses_an_unknown_zone_naming_it(name: str) -> None:
    with pytest.raises(ScheduleError, match=f"unknown time zone {name!r}") as info:
        check_timezone(name)
    assert info.value.field == "timezone"


@pytest.mark.parametrize("name", ["", None, 5, BERLIN])
def test_check_timezone_refuses_anything_but_a_name(name: Any) -> None:
    with pytest.raises(ScheduleError, match="non-empty IANA name") as info:
        check_timezone(name)
    assert info.value.field == "timezone"


# ── next_cron_time in ordinary times ─────────────────────────────────────────────────────────


def test_next_cron_time_is_the_next_match_in_utc() -> None:
    found = next_cron_time("0 */5 * * * *", "UTC", utc(2026, 6, 1, 12, 3, 10))
    assert found == utc(2026, 6, 1, 12, 5)
    assert found.tzinfo is UTC


@pytest.mark.parametrize(
    ("zone", "after", "expected"),
    [
        (BERLIN, utc(2026, 1, 15, 12), utc(2026, 1, 16, 8)),  # CET, +01:00
        (BERLIN, utc(2026, 7, 15, 12), utc(2026, 7, 16, 7)),  # CEST, +02:00
        (NEW_YORK, utc(2026, 1, 15, 12), utc(2026, 1, 15, 14)),  # EST, -05:00
        (NEW_YORK, utc(2026, 7, 15, 12), utc(2026, 7, 15, 13)),  # EDT, -04:00
        (ZoneInfo("Asia/Kolkata"), utc(2026, 7, 15, 12), utc(2026, 7, 16, 3, 30)),  # +05:30
    ],
)
def test_cron_in_a_time_zone_gives_the_utc_instant_of_the_local_time(
    zone: ZoneInfo, after: datetime, expected: datetime
) -> None:
    assert next_cron_time("0 0 9 * * *", zone.key, after) == expected


def test_the_zone_of_after_does_not_matter_only_the_instant() -> None:
    instant = utc(2026, 1, 15, 7, 59)
    in_tokyo = instant.astimezone(ZoneInfo("Asia/Tokyo"))
    assert next_cron_time("0 0 9 * * *", "Europe/Berlin", in_tokyo) == utc(2026, 1, 15, 8)


def test_next_cron_time_accepts_a_zoneinfo() -> None:
    assert next_cron_time("0 0 9 * * *", BERLIN, utc(2026, 1, 15, 12)) == utc(2026, 1, 16, 8)


def test_next_cron_time_is_strictly_after_a_matching_instant() -> None:
    assert next_cron_time("0 0 * * * *", "UTC", utc(2026, 6, 1, 12)) == utc(2026, 6, 1, 13)
    just_after = utc(2026, 6, 1, 12) + timedelta(microseconds=1)
    assert next_cron_time("0 0 * * * *", "UTC", just_after) == utc(2026, 6, 1, 13)
    just_before = utc(2026, 6, 1, 12) - timedelta(microseconds=1)
    assert next_cron_time("0 0 * * * *", "UTC", just_before) == utc(2026, 6, 1, 12)


@pytest.mark.parametrize(
    ("five_fields", "six_fields"),
    [
        ("*/30 * * * *", "0 */30 * * * *"),
        ("30 2 * * *", "0 30 2 * * *"),
        ("0 9 * * mon-fri", "0 0 9 * * mon-fri"),
        ("15 6 1 * *", "0 15 6 1 * *"),
    ],
)
@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
def test_five_and_six_field_expressions_fire_at_the_same_times(
    five_fields: str, six_fields: str, zone: ZoneInfo
) -> None:
    start, end = utc(2026, 3, 1), utc(2026, 4, 5)
    five = occurrences(five_fields, zone, start, end)
    assert five
    assert five == occurrences(six_fields, zone, start, end)


def test_the_first_field_of_six_is_seconds() -> None:
    found = occurrences("30 * * * * *", BERLIN, utc(2026, 6, 1, 12), utc(2026, 6, 1, 12, 3))
    assert found == [
        utc(2026, 6, 1, 12, 0, 30),
        utc(2026, 6, 1, 12, 1, 30),
        utc(2026, 6, 1, 12, 2, 30),
    ]


def test_every_ten_seconds_fires_every_ten_seconds() -> None:
    found = occurrences("*/10 * * * * *", BERLIN, utc(2026, 6, 1, 12), utc(2026, 6, 1, 12, 1))
    assert [moment.second for moment in found] == [10, 20, 30, 40, 50, 0]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        (("0 0 9 * * *", "Europe/Berlin", datetime(2026, 1, 1, 12)), "after"),
        (("0 0 9 * * *", "Europe/Berlin", "2026-01-01T12:00:00Z"), "after"),
        (("0 0 9 * * *", "Mars/Olympus_Mons", utc(2026, 1, 1)), "timezone"),
        (("0 0 9 * *  * *", "Europe/Berlin", utc(2026, 1, 1)), "cron_expression"),
        (("nonsense", "Europe/Berlin", utc(2026, 1, 1)), "cron_expression"),
    ],
)
def test_next_cron_time_refuses_bad_arguments_naming_them(
    arguments: tuple[Any, Any, Any], field: str
) -> None:
    with pytest.raises(ScheduleError) as info:
        next_cron_time(*arguments)
    assert info.value.field == field


# ── next_cron_time across daylight-saving changes ────────────────────────────────────────────


@dataclass(frozen=True)
class DstYear:
    """The 2026 daylight-saving changes of one zone."""

    zone: ZoneInfo
    spring_forward: datetime  # UTC instant the clocks jump forward
    skipped_hour: int  # the local hour that does not exist that day
    fall_back: datetime  # UTC instant the clocks go back
    repeated_hour: int  # the local hour that happens twice that day

    def __str__(self) -> str:
        return self.zone.key


DST_YEARS = [
    # Berlin: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
    DstYear(BERLIN, utc(2026, 3, 29, 1), 2, utc(2026, 10, 25, 1), 2),
    # New York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
    DstYear(NEW_YORK, utc(2026, 3, 8, 7), 2, utc(2026, 11, 1, 6), 1),
]
dst_years = pytest.mark.parametrize("year", DST_YEARS, ids=str)


@dst_years
def test_the_zone_table_matches_the_tz_database(year: DstYear) -> None:
    zone, second = year.zone, timedelta(seconds=1)
    before, at = (
        (year.spring_forward - second).astimezone(zone),
        year.spring_forward.astimezone(zone),
    )
    assert (before.hour, at.hour) == (year.skipped_hour - 1, year.skipped_hour + 1)
    before, at = (year.fall_back - second).astimezone(zone), year.fall_back.astimezone(zone)
    assert (before.hour, at.hour, at.fold) == (year.repeated_hour, year.repeated_hour, 1)


@dst_years
def test_rule_a_a_daily_time_in_the_skipped_hour_fires_once_when_the_gap_ends(
    year: DstYear,
) -> None:
    expression = f"0 30 {year.skipped_hour} * * *"
    found = occurrences(
        expression,
        year.zone,
        year.spring_forward - timedelta(days=2),
        year.spring_forward + timedelta(days=1),
    )
    day = year.spring_forward.astimezone(year.zone).date()
    assert [wall(moment, year.zone) for moment in found] == [
        f"{day - timedelta(days=2)} 0{year.skipped_hour}:30:00 {offset(year, before=True)}",
        f"{day - timedelta(days=1)} 0{year.skipped_hour}:30:00 {offset(year, before=True)}",
        f"{day} 0{year.skipped_hour + 1}:00:00 {offset(year, before=False)}",
        f"{day + timedelta(days=1)} 0{year.skipped_hour}:30:00 {offset(year, before=False)}",
    ]
    assert found[2] == year.spring_forward


@dst_years
def test_rule_a_several_times_in_the_skipped_hour_still_fire_once(year: DstYear) -> None:
    expression = f"0 0,15,45 {year.skipped_hour} * * *"
    found = occurrences(
        expression,
        year.zone,
        year.spring_forward - timedelta(hours=3),
        year.spring_forward + timedelta(hours=12),
    )
    assert found == [year.spring_forward]


@dst_years
def test_rule_a_a_skipped_time_and_a_match_at_the_gap_end_fire_once_together(
    year: DstYear,
) -> None:
    hour = year.skipped_hour
    found = occurrences(
        f"0 0,30 {hour},{hour + 1} * * *",
        year.zone,
        year.spring_forward - timedelta(hours=1),
        year.spring_forward + timedelta(hours=2),
    )
    assert found == [year.spring_forward, year.spring_forward + timedelta(minutes=30)]


@dst_years
def test_rule_b_a_daily_time_in_the_repeated_hour_fires_once_at_its_first_occurrence(
    year: DstYear,
) -> None:
    expression = f"0 30 {year.repeated_hour} * * *"
    found = occurrences(
        expression,
        year.zone,
        year.fall_back - timedelta(days=2, minutes=90),
        year.fall_back + timedelta(days=1, hours=1),
    )
    day = year.fall_back.astimezone(year.zone).date()
    hour = f"0{year.repeated_hour}:30:00"
    summer, winter = (
        offset(year, before=True, spring=False),
        offset(year, before=False, spring=False),
    )
    assert [wall(moment, year.zone) for moment in found] == [
        f"{day - timedelta(days=2)} {hour} {summer}",
        f"{day - timedelta(days=1)} {hour} {summer}",
        f"{day} {hour} {summer}",
        f"{day + timedelta(days=1)} {hour} {winter}",
    ]
    assert found[2] == year.fall_back - timedelta(minutes=30)


@dst_years
def test_rule_b_from_inside_the_second_pass_the_repeated_time_does_not_fire_again(
    year: DstYear,
) -> None:
    expression = f"0 30 {year.repeated_hour} * * *"
    inside_second_pass = year.fall_back + timedelta(minutes=10)
    found = next_cron_time(expression, year.zone.key, inside_second_pass)
    assert found.astimezone(year.zone).date() > inside_second_pass.astimezone(year.zone).date()


@dst_years
def test_rule_b_every_minute_of_a_named_hour_runs_through_that_hour_once(year: DstYear) -> None:
    found = occurrences(
        f"0 * {year.repeated_hour} * * *",
        year.zone,
        year.fall_back - timedelta(hours=2),
        year.fall_back + timedelta(hours=3),
    )
    assert len(found) == 60
    assert found[0] == year.fall_back - timedelta(hours=1)
    assert found[-1] == year.fall_back - timedelta(minutes=1)


ELAPSED_CADENCES = [
    ("0 */15 * * * *", timedelta(minutes=15), timedelta(hours=3)),
    ("0 0 * * * *", timedelta(hours=1), timedelta(hours=6)),
    ("0 30 * * * *", timedelta(hours=1), timedelta(hours=6)),
    ("*/20 * * * * *", timedelta(seconds=20), timedelta(minutes=10)),
    ("0 * * * * *", timedelta(minutes=1), timedelta(minutes=90)),
]


@dst_years
@pytest.mark.parametrize("transition", ["spring_forward", "fall_back"])
@pytest.mark.parametrize(("expression", "period", "around"), ELAPSED_CADENCES)
def test_rule_c_jobs_running_every_hour_keep_their_elapsed_cadence(
    year: DstYear, transition: str, expression: str, period: timedelta, around: timedelta
) -> None:
    at = getattr(year, transition)
    found = occurrences(expression, year.zone, at - around, at + around)
    steps = {later - earlier for earlier, later in pairwise(found)}
    assert steps == {period}
    assert len(found) == 2 * around // period


@dst_years
def test_rule_c_an_hourly_job_runs_in_both_passes_of_the_repeated_hour(year: DstYear) -> None:
    found = occurrences(
        "0 30 * * * *",
        year.zone,
        year.fall_back - timedelta(hours=2),
        year.fall_back + timedelta(hours=1),
    )
    repeated = [
        moment for moment in found if moment.astimezone(year.zone).hour == year.repeated_hour
    ]
    assert [moment.astimezone(year.zone).fold for moment in repeated] == [0, 1]
    assert repeated[1] - repeated[0] == timedelta(hours=1)


@dst_years
def test_rule_c_an_hourly_job_does_not_fire_at_the_gap_end_for_the_skipped_hour(
    year: DstYear,
) -> None:
    found = occurrences(
        "0 30 * * * *",
        year.zone,
        year.spring_forward - timedelta(hours=2),
        year.spring_forward + timedelta(hours=2),
    )
    assert year.spring_forward not in found
    assert [moment.astimezone(year.zone).minute for moment in found] == [30, 30, 30, 30]


@dst_years
@pytest.mark.parametrize("transition", ["spring_forward", "fall_back"])
@pytest.mark.parametrize(
    "expression",
    [
        "0 30 1 * * *",
        "0 30 2 * * *",
        "0 0 3 * * *",
        "0 15,45 2 * * *",
        "0 0 * * * *",
        "0 30 * * * *",
        "0 */15 * * * *",
        "0 */20 1-3 * * *",
        "0 0 */2 * * *",
        "0 * 2 * * *",
        "0 0 0 * * *",
        "*/20 * * * * *",
        "*/30 59 1,2 * * *",
    ],
)
def test_rule_d_successive_occurrences_match_a_second_by_second_reading_of_the_clock(
    year: DstYear, transition: str, expression: str
) -> None:
    at = getattr(year, transition)
    seconds_matter = not expression.startswith("0 ")
    around = timedelta(minutes=10) if expression.startswith("*") else timedelta(hours=4)
    start, end = at - around, at + around
    expected = reference_occurrences(expression, year.zone, start, end, seconds_matter)
    assert expected, "the window should contain occurrences"

    found = occurrences(expression, year.zone, start, end)

    assert found == expected
    assert all(earlier < later for earlier, later in pairwise(found))
    # From any instant in the window, the next occurrence is the reference's next one.
    probes = [
        start + timedelta(seconds=433 * i) for i in range(int(2 * around.total_seconds()) // 433)
    ]
    probes += [
        moment + delta for moment in expected for delta in (-timedelta(seconds=1), timedelta(0))
    ]
    for probe in probes:
        following = [moment for moment in expected if moment > probe]
        if following:
            assert next_cron_time(expression, year.zone.key, probe) == following[0], probe


def offset(year: DstYear, *, before: bool, spring: bool = True) -> str:
    at = year.spring_forward if spring else year.fall_back
    moment = at - timedelta(seconds=1) if before else at
    return moment.astimezone(year.zone).strftime("%z")


def reference_occurrences(
    expression: str, zone: ZoneInfo, start: datetime, end: datetime, seconds_matter: bool
) -> list[datetime]:
    """The firing instants in (start, end] by reading the wall clock at every tick.

    Jobs whose hour field is every hour fire whenever the clock reads a match. Others fire at
    the first reading of a match, and once at the end of a gap that skipped over a match.
    Handles the second, minute and hour fields (the day fields must be ``*``).
    """
    second_field, minute_field, hour_field, *days = expression.split()
    assert days == ["*", "*", "*"]
    seconds, minutes, hours = (
        parse_field(second_field, 59),
        parse_field(minute_field, 59),
        parse_field(hour_field, 23),
    )
    every_hour = hours == set(range(24))
    tick = timedelta(seconds=1 if seconds_matter else 60)

    def matches(reading: datetime) -> bool:
        return reading.second in seconds and reading.minute in minutes and reading.hour in hours

    found: list[datetime] = []
    moment = start
    previous = moment.astimezone(zone).replace(tzinfo=None)
    while moment < end:
        moment += tick
        clock = moment.astimezone(zone)
        reading = clock.replace(tzinfo=None)
        fires = matches(reading) and (every_hour or clock.fold == 0)
        if not every_hour and reading - previous > tick:
            skipped = previous + tick
            while skipped < reading and not fires:
                fires = matches(skipped)
                skipped += tick
        if fires:
            found.append(moment)
        previous = reading
    return found


def parse_field(field: str, highest: int) -> set[int]:
    values: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            low, high = 0, highest
        elif "-" in span:
            low, high = (int(bound) for bound in span.split("-"))
        else:
            low = high = int(span)
        values.update(range(low, high + 1, int(step or 1)))
    return values


def test_the_reference_reads_fields_like_cron() -> None:
    assert parse_field("*/20", 59) == {0, 20, 40}
    assert parse_field("1-3", 23) == {1, 2, 3}
    assert parse_field("0,15,45", 59) == {0, 15, 45}
    assert parse_field("*", 23) == set(range(24))


# ── next_interval_slot ───────────────────────────────────────────────────────────────────────


def test_next_interval_slot_is_the_next_grid_point_after_now() -> None:
    anchor = utc(2026, 6, 1, 0, 0)
    assert next_interval_slot(anchor, 300, utc(2026, 6, 1, 1, 2, 3)) == utc(2026, 6, 1, 1, 5)


def test_next_interval_slot_is_strictly_after_now() -> None:
    anchor = utc(2026, 6, 1, 0, 0)
    assert next_interval_slot(anchor, 300, utc(2026, 6, 1, 1, 5)) == utc(2026, 6, 1, 1, 10)
    assert next_interval_slot(anchor, 300, anchor) == utc(2026, 6, 1, 0, 5)


def test_next_interval_slot_keeps_an_anchor_still_in_the_future() -> None:
    anchor = utc(2026, 6, 1, 12)
    assert next_interval_slot(anchor, 300, utc(2026, 6, 1, 11)) == anchor


def test_next_interval_slot_is_exact_far_from_the_anchor() -> None:
    anchor = utc(2026, 1, 1) + timedelta(microseconds=123_457)
    now = anchor + timedelta(weeks=52, seconds=6, microseconds=1)
    assert next_interval_slot(anchor, 7, now) == anchor + timedelta(weeks=52, seconds=7)


def test_next_interval_slot_counts_elapsed_time_whatever_the_zones_of_its_arguments() -> None:
    anchor = local(BERLIN, 2026, 10, 25, 1, 0)  # 23:00 UTC the day before
    now = local(NEW_YORK, 2026, 10, 24, 20, 10)  # 00:10 UTC
    assert next_interval_slot(anchor, 3600, now) == utc(2026, 10, 25, 1)
    found = next_interval_slot(anchor, 3600, local(BERLIN, 2026, 10, 25, 2, 10, fold=1))
    assert found == utc(2026, 10, 25, 2)  # 03:00 CET: the hour repeated by the fall-back counts
    assert found.tzinfo is UTC


@pytest.mark.parametrize(
    ("anchor", "interval", "now", "field"),
    [
        (utc(2026, 1, 1), 0, utc(2026, 1, 2), "interval"),
        (utc(2026, 1, 1), -60, utc(2026, 1, 2), "interval"),
        (utc(2026, 1, 1), True, utc(2026, 1, 2), "interval"),
        (utc(2026, 1, 1), 1.5, utc(2026, 1, 2), "interval"),
        (datetime(2026, 1, 1), 60, utc(2026, 1, 2), "anchor"),
        (utc(2026, 1, 1), 60, datetime(2026, 1, 2), "now"),
        (None, 60, utc(2026, 1, 2), "anchor"),
    ],
)
def test_next_interval_slot_refuses_bad_arguments_naming_them(
    anchor: Any, interval: Any, now: Any, field: str
) -> None:
    with pytest.raises(ScheduleError) as info:
        next_interval_slot(anchor, interval, now)
    assert info.value.field == field


def test_schedules_import_no_django() -> None:
    import subprocess
    import sys

    code = (
        "import sys, trax.scheduling.schedules, trax.scheduling.graph; "
        "sys.exit(any(name == 'django' or name.startswith('django.') for name in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
