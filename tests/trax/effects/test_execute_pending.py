"""The second entry point: executing a pending row someone else created (the dispatcher)."""

from __future__ import annotations

import pytest

from trax.effects.from_settings import default_service
from trax.models import Audit, Metadata, TrainState
from trax.store import RunOutcome, audit_record, metadata_create, metadata_finish, metadata_start

pytestmark = pytest.mark.django_db


def pending(name: str = "tests.sum_doubled", input: object = None) -> Metadata:
    return metadata_create(name=name, input={"values": [1, 2]} if input is None else input)


def test_a_pending_row_is_started_run_and_completed() -> None:
    row = pending()

    execution = default_service().execute(row.pk)

    row.refresh_from_db()
    assert execution.recorded and execution.state == TrainState.COMPLETED
    assert row.train_state == TrainState.COMPLETED
    assert row.output == {"value": 6}
    assert row.start_time is not None and row.host_name


def test_a_row_that_is_no_longer_pending_is_not_run() -> None:
    row = pending()
    Metadata.objects.filter(id=row.pk).update(train_state=TrainState.CANCELLED)

    execution = default_service().execute(row.pk)

    assert not execution.recorded
    assert execution.state == TrainState.CANCELLED
    row.refresh_from_db()
    assert row.start_time is None and row.output is None


def test_extra_writes_join_the_start_and_finish_transactions() -> None:
    row = pending()

    metadata_start(
        row.pk,
        host=default_service().host,
        also=[lambda: audit_record(actor="test", action="start", target=str(row.pk))],
        using="default",
    )
    metadata_finish(
        row.pk,
        RunOutcome(state=TrainState.COMPLETED),
        also=[lambda: audit_record(actor="test", action="finish", target=str(row.pk))],
        using="default",
    )

    assert list(Audit.objects.order_by("id").values_list("action", flat=True)) == [
        "start",
        "finish",
    ]


def test_an_extra_write_that_fails_rolls_the_start_back() -> None:
    row = pending()

    def boom() -> None:
        raise RuntimeError("the job row is gone")

    with pytest.raises(RuntimeError):
        metadata_start(row.pk, host=default_service().host, also=[boom], using="default")

    row.refresh_from_db()
    assert row.train_state == TrainState.PENDING


def test_a_row_naming_an_unregistered_train_fails_as_unknown_train() -> None:
    row = pending(name="tests.removed_in_this_deploy")

    execution = default_service().execute(row.pk)

    row.refresh_from_db()
    assert execution.state == TrainState.FAILED
    assert row.train_state == TrainState.FAILED
    assert row.failure_exception == "UnknownTrain"
    assert "tests.removed_in_this_deploy" in row.failure_reason


def test_a_row_whose_input_no_longer_validates_fails_with_the_reason() -> None:
    row = pending(input={"values": "oops"})

    default_service().execute(row.pk)

    row.refresh_from_db()
    assert row.train_state == TrainState.FAILED
    assert row.failure_exception == "InputValidationError"
    assert "values" in row.failure_reason


def test_a_child_row_keeps_its_parent_link() -> None:
    parent = pending()
    child = metadata_create(name="tests.sum_doubled", input={"values": [1]}, parent_id=parent.pk)

    default_service().execute(child.pk)

    child.refresh_from_db()
    assert child.parent_id == parent.pk and child.train_state == TrainState.COMPLETED
