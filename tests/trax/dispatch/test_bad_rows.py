"""One work entry the dispatcher cannot dispatch is recorded and postponed; the rest of the
batch is dispatched (issue 8 #1). The bad row is real: a trigger refusing its run's insert."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

import trax
from tests.trax.refusals import MESSAGE, inserts_refused
from trax.dispatch.cycle import DISPATCHER_TRAIN_NAME
from trax.dispatch.steps.dispatch import POSTPONE_SECONDS
from trax.models import Metadata, WorkQueue, WorkQueueStatus

from .factories import GREET, PERSON, dispatch_all

pytestmark = pytest.mark.django_db


def test_an_entry_whose_run_the_database_refuses_is_postponed_and_the_others_dispatched() -> None:
    good = trax.enqueue_many(GREET, [PERSON] * 4)
    bad = trax.enqueue("demo.noop", {})
    now = timezone.now()

    with inserts_refused("trax_metadata", "name", "demo.noop"):
        report = dispatch_all(now)
        again = dispatch_all(now)

    assert report.dispatched == 4
    assert again.dispatched == 0
    dispatched = WorkQueue.objects.filter(status=WorkQueueStatus.DISPATCHED)
    assert sorted(dispatched.values_list("external_id", flat=True)) == sorted(good)
    entry = WorkQueue.objects.get(external_id=bad)
    assert entry.status == WorkQueueStatus.QUEUED
    assert entry.scheduled_at == now + timedelta(seconds=POSTPONE_SECONDS)
    [record] = Metadata.objects.filter(name=DISPATCHER_TRAIN_NAME)
    assert record.failure_junction == "dispatch"
    assert f"work entry {entry.pk} (demo.noop)" in record.failure_reason
    assert MESSAGE in record.failure_reason

    later = dispatch_all(now + timedelta(seconds=POSTPONE_SECONDS))
    assert later.dispatched == 1, "once the fault is gone the entry is dispatched"
