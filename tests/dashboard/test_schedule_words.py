"""A schedule in words: intervals, the common cron shapes, dependents; anything else falls
back to its cron text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard.schedules.describe import describe_cron, describe_every, describe_schedule
from trax import Cron


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "every second"),
        (30, "every 30 seconds"),
        (60, "every minute"),
        (90, "every 90 seconds"),
        (600, "every 10 minutes"),
        (3600, "every hour"),
        (7200, "every 2 hours"),
        (86400, "every day"),
        (172800, "every 2 days"),
    ],
)
def test_an_interval_in_its_largest_whole_unit(seconds: int, words: str) -> None:
    assert describe_every(seconds) == words


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("*/10 * * * *", "every 10 minutes"),
        ("0 */5 * * * *", "every 5 minutes"),
        (Cron.minutely().expression, "every minute"),
        (Cron.secondly().expression, "every second"),
        (Cron.hourly(minute=15).expression, "every hour at 15 past"),
        ("0 */2 * * *", "every 2 hours"),
        ("30 */6 * * *", "every 6 hours at 30 past"),
        (Cron.daily(hour=3).expression, "at 03:00 Europe/Paris every day"),
        ("30 3 * * *", "at 03:30 Europe/Paris every day"),
        ("0 9 * * 1-5", "at 09:00 Europe/Paris on weekdays"),
        ("0 9 * * mon-fri", "at 09:00 Europe/Paris on weekdays"),
        ("0 10 * * 0,6", "at 10:00 Europe/Paris on weekends"),
        (Cron.weekly("mon", hour=9).expression, "at 09:00 Europe/Paris every Monday"),
        ("0 9 * * 1,3,5", "at 09:00 Europe/Paris every Monday, Wednesday and Friday"),
        ("0 18 * * 7", "at 18:00 Europe/Paris every Sunday"),
        (Cron.monthly(day=1, hour=4).expression, "at 04:00 Europe/Paris on day 1 of every month"),
    ],
)
def test_common_cron_shapes_in_words(expression: str, words: str) -> None:
    assert describe_cron(expression, "Europe/Paris") == words


@pytest.mark.parametrize(
    "expression",
    ["0 0 1 1 *", "15 0 9 * * *", "0 9-17 * * *", "0 9 1-7 * 1", "0 0 L * *", "*/5 9 * * *"],
)
def test_other_shapes_fall_back_to_the_cron_text(expression: str) -> None:
    assert describe_cron(expression, "UTC") == f"cron {expression} (UTC)"


def test_dependents_once_and_manual() -> None:
    assert describe_schedule("dependent", parent="extract") == "after extract succeeds"
    assert (
        describe_schedule("dormant_dependent", parent="watch") == "dormant until watch activates it"
    )
    at = datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
    assert describe_schedule("once", run_at=at) == "once, at 2026-12-24 18:00:00 UTC"
    assert describe_schedule("manual") == "only when triggered"
    assert describe_schedule("interval", interval_seconds=600) == "every 10 minutes"
    assert (
        describe_schedule("cron", cron_expression="0 30 3 * * *", timezone="Europe/Paris")
        == "at 03:30 Europe/Paris every day"
    )
