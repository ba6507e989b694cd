"""Store writers the console's Queue and Audit pages use: cancelling queued entries (only those
still queued), and the audit trail telling open pages (topic ``audit``, and the SQLite change
marker)."""

from __future__ import annotations

import pytest

import trax.store.audit as audit_module
import trax.store.work_entries.queue as queue_module
from trax.models import WorkQueue
from trax.store import audit_record, change_marker, work_queue_cancel_queued

pytestmark = pytest.mark.django_db


@pytest.fixture
def told(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    topics: list[str] = []

    def record(topic: str, *, using: str = "default") -> None:
        topics.append(topic)

    monkeypatch.setattr(queue_module, "notify_changed", record)
    monkeypatch.setattr(audit_module, "notify_changed", record)
    return topics


def test_cancel_queued_cancels_only_entries_still_queued(told: list[str]) -> None:
    queued = WorkQueue.objects.create(train_name="demo.greet")
    dispatched = WorkQueue.objects.create(train_name="demo.greet", status="dispatched")
    cancelled = WorkQueue.objects.create(train_name="demo.greet", status="cancelled")

    count = work_queue_cancel_queued([queued.pk, dispatched.pk, cancelled.pk, 987654])

    assert count == 1
    assert dict(WorkQueue.objects.values_list("id", "status")) == {
        queued.pk: "cancelled",
        dispatched.pk: "dispatched",
        cancelled.pk: "cancelled",
    }
    assert told == ["queue"]
    assert work_queue_cancel_queued([queued.pk]) == 0 and work_queue_cancel_queued([]) == 0
    assert told == ["queue"], "nothing changed: nothing told"


def test_an_audit_row_tells_the_audit_page(told: list[str]) -> None:
    before = change_marker(using="default")

    row = audit_record(actor="ops", action="queue.cancel", target="work_entry:1")

    assert row.pk and told == ["audit"]
    assert change_marker(using="default") != before, "SQLite's pollers see it too"
