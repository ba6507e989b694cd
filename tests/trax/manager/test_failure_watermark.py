"""A dead letter's resolution settles the failures before it: they count toward no retry or
dead letter again, so the streak read covers the streak, not the manifest's history."""

from __future__ import annotations

from datetime import datetime

import pytest

from trax.manager.steps.failure_streaks import load_failure_streaks
from trax.models import DeadLetter
from trax.store import dead_letter_acknowledge, dead_letter_retry

from .conftest import cycle_at, finished, minutes, reload

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("resolve", ["acknowledge", "retry"])
def test_a_resolution_moves_the_watermark_and_only_later_failures_count(
    clock: datetime, failing, resolve: str
) -> None:
    manifest = failing(max_retries=2)
    runs = [finished(manifest, ended=clock - minutes(30 - i)) for i in range(3)]
    letter = DeadLetter.objects.create(manifest=manifest, last_failed_run=runs[-1], reason="x")
    if resolve == "acknowledge":
        dead_letter_acknowledge([letter.pk], actor="ops", note="seen", using="default")
    else:
        dead_letter_retry([letter.pk], actor="ops", using="default")

    assert reload(manifest).failure_watermark == reload(letter).resolved_at
    assert load_failure_streaks(cycle_at(clock)).streaks == ()

    later = finished(manifest, ended=reload(manifest).failure_watermark + minutes(1))
    [streak] = load_failure_streaks(cycle_at(clock + minutes(5))).streaks
    assert (streak.failures, streak.latest_run_id) == (1, later.pk)
