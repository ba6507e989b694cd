"""Step create_dead_letters: a manifest whose consecutive failures exceed its max retries (or
whose train is unknown where it ran) waits for an operator; resolutions restart the count."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

import trax
from trax.manager.context import Cycle
from trax.manager.cycle import run_manager_cycle
from trax.manager.steps.dead_letters import DeadLettered, create_dead_letters
from trax.manager.steps.failure_streaks import load_failure_streaks
from trax.manager.steps.retries import queue_retries
from trax.models import DeadLetter, DeadLetterStatus, Manifest, WorkQueue, WorkQueueStatus

from .conftest import FAILS, PERSON, cycle_at, finished, hours, minutes, queued

pytestmark = pytest.mark.django_db


def dead_letter_step(cycle: Cycle) -> DeadLettered:
    return create_dead_letters(cycle, load_failure_streaks(cycle))


def awaiting(manifest: Manifest) -> list[DeadLetter]:
    return list(
        DeadLetter.objects.filter(manifest=manifest, status=DeadLetterStatus.AWAITING_INTERVENTION)
    )


@pytest.mark.parametrize(
    ("failed", "dead_lettered"), [(1, False), (2, False), (3, True), (4, True)]
)
def test_a_manifest_is_dead_lettered_when_its_failures_exceed_max_retries(
    clock: datetime, failing, failed: int, dead_lettered: bool
) -> None:
    manifest = failing(max_retries=2)
    runs = [finished(manifest, ended=clock - hours(1) + minutes(i)) for i in range(failed)]

    result = dead_letter_step(cycle_at(clock))

    assert result.manifests == int(dead_lettered)
    letters = awaiting(manifest)
    assert len(letters) == int(dead_lettered)
    if dead_lettered:
        [letter] = letters
        assert letter.last_failed_run_id == runs[-1].pk
        assert letter.retry_count == failed - 1
        assert f"{failed} consecutive failures" in letter.reason


def test_the_third_failure_with_two_retries_dead_letters_instead_of_retrying(
    clock: datetime, failing
) -> None:
    manifest = failing(max_retries=2)
    for i in range(3):
        finished(manifest, ended=clock - hours(1) + minutes(i))
    cycle = cycle_at(clock)
    streaks = load_failure_streaks(cycle)

    retries = queue_retries(cycle, streaks)
    letters = create_dead_letters(cycle, streaks)

    assert (retries.manifest_runs, letters.manifests) == (0, 1)
    assert queued(manifest) == []


def test_an_unknown_train_dead_letters_at_the_first_failure(clock: datetime, failing) -> None:
    manifest = failing(max_retries=5)
    run = finished(manifest, ended=clock - minutes(1), exception="UnknownTrain")

    result = dead_letter_step(cycle_at(clock))

    assert result.manifests == 1
    [letter] = awaiting(manifest)
    assert letter.last_failed_run_id == run.pk
    assert "UnknownTrain" in letter.reason


def test_at_most_one_letter_awaits_per_manifest(clock: datetime, failing) -> None:
    manifest = failing(max_retries=0)
    finished(manifest, ended=clock - minutes(5))
    cycle = cycle_at(clock)
    streaks = load_failure_streaks(cycle)

    first = create_dead_letters(cycle, streaks)
    again_same_streaks = create_dead_letters(cycle, streaks)  # a racing leader
    finished(manifest, ended=clock - minutes(1))
    next_cycle = dead_letter_step(cycle_at(clock + minutes(1)))

    assert (first.manifests, again_same_streaks.manifests, next_cycle.manifests) == (1, 0, 0)
    assert len(awaiting(manifest)) == 1
    assert DeadLetter.objects.filter(manifest=manifest).count() == 1


def test_a_manifest_awaiting_an_operator_has_no_streak_to_retry(clock: datetime, failing) -> None:
    manifest = failing(max_retries=3)
    DeadLetter.objects.create(manifest=manifest, reason="earlier")
    finished(manifest, ended=clock - minutes(1))

    assert load_failure_streaks(cycle_at(clock)).streaks == ()


def test_whole_cycles_dead_letter_a_manifest_once(clock: datetime, failing) -> None:
    manifest = failing(max_retries=1)
    Manifest.objects.filter(id=manifest.pk).update(next_run_at=clock + hours(5))
    for i in range(2):
        finished(manifest, ended=clock - hours(1) + minutes(i))

    reports = [run_manager_cycle(clock + minutes(i)) for i in range(3)]

    assert [r.dead_lettered for r in reports] == [1, 0, 0]
    assert len(awaiting(manifest)) == 1


# ── counting after a resolution ────────────────────────────────────────────────────────────


def resolve(letter: DeadLetter, how: str) -> None:
    if how == "acknowledge":
        assert trax.scheduler.acknowledge_dead_letters([letter.pk], note="looked at it") == 1
    else:
        assert len(trax.scheduler.retry_dead_letters([letter.pk], note="try again")) == 1
        # The requeued entry was dispatched; its run is the new failure below.
        WorkQueue.objects.filter(dead_letter=letter).update(status=WorkQueueStatus.DISPATCHED)


@pytest.mark.parametrize("how", ["acknowledge", "retry"])
def test_after_a_resolution_earlier_failures_no_longer_count(failing, how: str) -> None:
    manifest = failing(max_retries=2)
    before = timezone.now()
    for i in range(3):
        finished(manifest, ended=before - hours(1) + minutes(i))
    assert dead_letter_step(cycle_at(before)).manifests == 1
    [letter] = awaiting(manifest)

    resolve(letter, how)
    letter.refresh_from_db()
    assert letter.resolved_at is not None

    after = timezone.now() + minutes(1)
    assert load_failure_streaks(cycle_at(after)).streaks == ()

    new_failure = finished(manifest, ended=letter.resolved_at + minutes(1))
    cycle = cycle_at(letter.resolved_at + minutes(2))
    [streak] = load_failure_streaks(cycle).streaks

    assert streak.failures == 1  # failure #1 after the resolution
    assert streak.latest_run_id == new_failure.pk
    assert dead_letter_step(cycle).manifests == 0
    retries = queue_retries(cycle, load_failure_streaks(cycle))
    assert retries.manifest_runs == 1
    assert WorkQueue.objects.get(retry_of=new_failure).attempt == 2


def test_after_a_resolution_the_count_restarts_and_can_dead_letter_again(failing) -> None:
    manifest = failing(max_retries=1)
    before = timezone.now()
    for i in range(2):
        finished(manifest, ended=before - hours(1) + minutes(i))
    dead_letter_step(cycle_at(before))
    [first] = awaiting(manifest)
    trax.scheduler.acknowledge_dead_letters([first.pk], note="fixed the card")
    first.refresh_from_db()

    finished(manifest, ended=first.resolved_at + minutes(1))
    assert dead_letter_step(cycle_at(first.resolved_at + minutes(2))).manifests == 0
    finished(manifest, ended=first.resolved_at + minutes(3))
    assert dead_letter_step(cycle_at(first.resolved_at + minutes(4))).manifests == 1

    [second] = awaiting(manifest)
    assert second.pk != first.pk
    assert second.retry_count == 1


# ── DispatchFailed ─────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(("requeued", "counted"), [(True, 1), (False, 2)])
def test_a_dispatch_failure_the_dispatcher_requeued_is_not_counted(
    clock: datetime, failing, requeued: bool, counted: int
) -> None:
    manifest = failing(max_retries=1)
    earlier = finished(manifest, ended=clock - minutes(10), exception="DispatchFailed")
    if requeued:
        WorkQueue.objects.create(
            train_name=FAILS,
            input=PERSON,
            manifest=manifest,
            retry_of=earlier,
            dispatch_attempts=1,
            status=WorkQueueStatus.DISPATCHED,
        )
    final = finished(manifest, ended=clock - minutes(5), exception="DispatchFailed")

    [streak] = load_failure_streaks(cycle_at(clock)).streaks
    result = dead_letter_step(cycle_at(clock))

    assert streak.failures == counted
    assert streak.latest_run_id == final.pk
    assert result.manifests == (1 if counted > 1 else 0)
