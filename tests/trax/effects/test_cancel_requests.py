"""``trax.cancel_run`` and the store's cancel request: what changes and what is left alone."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import trax
from tests.trax.effects import trains as _trains  # noqa: F401  (registers tests.* trains)
from trax.api import UnknownRunError
from trax.models import Metadata, TrainState
from trax.store import metadata_create, metadata_request_cancel

pytestmark = pytest.mark.django_db


def test_a_pending_run_is_cancelled_at_once() -> None:
    run = metadata_create(name="tests.sum_doubled", input={"values": []})

    assert trax.cancel_run(run.pk) == 1

    run.refresh_from_db()
    assert run.train_state == TrainState.CANCELLED
    assert run.cancellation_requested and run.cancel_reason == "operator"
    assert run.end_time is not None


def test_a_finished_run_is_left_alone() -> None:
    run = metadata_create(name="tests.sum_doubled", input={})
    Metadata.objects.filter(id=run.pk).update(train_state=TrainState.COMPLETED)

    assert trax.cancel_run(run.pk) == 0

    run.refresh_from_db()
    assert run.train_state == TrainState.COMPLETED and not run.cancellation_requested


def test_descendants_are_flagged_with_reason_parent() -> None:
    root = metadata_create(name="a", input=None)
    child = metadata_create(name="b", input=None, parent_id=root.pk)
    grandchild = metadata_create(name="c", input=None, parent_id=child.pk)
    unrelated = metadata_create(name="d", input=None)

    result = metadata_request_cancel(root.pk)

    assert result.flagged == 3 and result.cancelled_pending == 3
    reasons = dict(Metadata.objects.values_list("id", "cancel_reason"))
    assert reasons[root.pk] == "operator"
    assert reasons[child.pk] == reasons[grandchild.pk] == "parent"
    assert reasons[unrelated.pk] == ""


def test_a_run_can_be_cancelled_by_its_external_id() -> None:
    run = metadata_create(name="x", input=None)
    assert trax.cancel_run(str(run.external_id)) == 1


@pytest.mark.parametrize("bad", [999_999, str(uuid.uuid4()), "not-an-id", True])
def test_an_unknown_run_is_a_clear_error_that_changes_nothing(bad: object) -> None:
    run = metadata_create(name="x", input=None)
    with pytest.raises(UnknownRunError):
        trax.cancel_run(bad)  # type: ignore[arg-type]
    run.refresh_from_db()
    assert run.train_state == TrainState.PENDING


def test_an_unknown_reason_is_refused() -> None:
    run = metadata_create(name="x", input=None)
    with pytest.raises(ValueError, match="reason must be one of"):
        trax.cancel_run(run.pk, reason="because")  # type: ignore[arg-type]
    run.refresh_from_db()
    assert not run.cancellation_requested


def test_the_id_enqueue_returned_cancels_the_queued_work(settings: Any) -> None:
    from trax.models import WorkQueue, WorkQueueStatus

    settings.TRAX = {**getattr(settings, "TRAX", {}), "DIRECT_DISPATCH": False}
    entry_id = trax.enqueue("tests.sum_doubled", {"values": [1]})

    assert trax.cancel_run(str(entry_id)) == 1

    assert WorkQueue.objects.get(external_id=entry_id).status == WorkQueueStatus.CANCELLED


def test_the_id_enqueue_returned_cancels_the_latest_run_of_its_lineage() -> None:
    from trax.dispatch.cycle import run_dispatcher_cycle

    entry_id = trax.enqueue("tests.sum_doubled", {"values": [1]})
    run_dispatcher_cycle(using="default")
    run = Metadata.objects.get(work_queue__external_id=entry_id)

    assert trax.cancel_run(entry_id) == 1

    run.refresh_from_db()
    assert run.train_state == TrainState.CANCELLED
