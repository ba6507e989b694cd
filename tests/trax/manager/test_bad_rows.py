"""One row the manager cannot process is recorded and skipped; the rest of the cycle runs
(issue 8 #1). The bad rows are real: a schedule edited by hand into nonsense, and a database
trigger refusing one row's insert."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.trax.refusals import MESSAGE, inserts_refused
from trax.manager.config import ManagerConfig
from trax.manager.cycle import MANAGER_TRAIN_NAME, run_manager_cycle
from trax.models import Manifest, Metadata, TrainState

from .conftest import finished, minutes, queued, seconds

pytestmark = pytest.mark.django_db


def due_now(make, n: int, clock: datetime) -> list[Manifest]:
    manifests = [make(f"every-{i}") for i in range(n)]
    Manifest.objects.filter(id__in=[m.pk for m in manifests]).update(next_run_at=clock - seconds(1))
    return manifests


def fault_records() -> list[Metadata]:
    return list(Metadata.objects.filter(name=MANAGER_TRAIN_NAME).order_by("id"))


def test_a_schedule_edited_into_nonsense_is_recorded_and_the_other_manifests_are_queued(
    clock: datetime, interval
) -> None:
    manifests = due_now(interval, 3, clock)
    bad = manifests[1]
    Manifest.objects.filter(id=bad.pk).update(schedule_type="cron", cron_expression="* * 31 2 *")

    report = run_manager_cycle(clock, config=ManagerConfig())

    assert report.occurrences_queued == 2
    assert report.faults == 1
    assert not queued(bad)
    [record] = fault_records()
    assert record.train_state == TrainState.FAILED
    assert record.failure_junction == "queue_due_manifests"
    assert f"manifest {bad.pk}" in record.failure_reason


def test_an_entry_the_database_refuses_is_skipped_and_the_others_are_queued(
    clock: datetime, interval
) -> None:
    manifests = due_now(interval, 5, clock)
    bad = manifests[3]

    with inserts_refused("trax_work_queue", "manifest_id", bad.pk):
        report = run_manager_cycle(clock, config=ManagerConfig())
        again = run_manager_cycle(clock, config=ManagerConfig())

    assert report.occurrences_queued == 4
    assert [m.pk for m in manifests if queued(m)] == [m.pk for m in manifests if m != bad]
    assert (report.faults, again.faults) == (1, 1)
    [record] = fault_records()  # the second cycle's repeat is counted, not recorded again
    assert f"manifest {bad.pk}" in record.failure_reason
    assert MESSAGE in record.failure_reason
    bad.refresh_from_db()
    assert bad.next_run_at == clock - seconds(1), "the refused manifest is tried again later"


def test_a_retry_the_database_refuses_is_skipped_and_the_other_retries_are_queued(
    clock: datetime, failing
) -> None:
    manifests = [failing(f"flaky-{i}", max_retries=3) for i in range(3)]
    runs = [finished(m, ended=clock - minutes(1)) for m in manifests]

    with inserts_refused("trax_work_queue", "retry_of_id", runs[0].pk):
        report = run_manager_cycle(clock, config=ManagerConfig())

    assert report.retries_queued == 2
    assert [len(queued(m)) for m in manifests] == [0, 1, 1]
    [record] = fault_records()
    assert record.failure_junction == "queue_retries"
    assert f"the retry of run {runs[0].pk}" in record.failure_reason
