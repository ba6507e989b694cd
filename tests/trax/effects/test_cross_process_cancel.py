"""Cancellation through the database flag, set by another connection or another process."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

import trax
from tests.trax.effects.trains import GATE, Gated, ParentOfGated, Wait
from trax.models import CancelReason, Metadata, TrainState

pytestmark = pytest.mark.django_db(transaction=True)

MANAGE = str(Path(__file__).resolve().parents[3] / "manage.py")


@pytest.fixture(autouse=True)
def fresh_gate() -> Iterator[None]:
    for event in (GATE.started, GATE.release, GATE.reached_second):
        event.clear()
    GATE.run_ids.clear()
    yield
    GATE.release.set()


class RunInThread:
    """Runs a train on its own thread (its own connections), keeping what it raised."""

    def __init__(self, train: type[trax.Train], input: object) -> None:  # type: ignore[type-arg]
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(train, input))
        self.thread.start()

    def _run(self, train: type[trax.Train], input: object) -> None:  # type: ignore[type-arg]
        try:
            trax.run(train, input)
        except BaseException as error:
            self.error = error
        finally:
            connections.close_all()

    def join(self) -> None:
        self.thread.join(15)
        assert not self.thread.is_alive(), "the run did not end"


def test_a_flag_set_by_another_process_stops_the_run_at_the_next_junction(
    child_process_env: dict[str, str],
) -> None:
    running = RunInThread(Gated, Wait(30))
    assert GATE.started.wait(10)
    run_id = GATE.run_ids[0]

    cancel = subprocess.run(
        [sys.executable, MANAGE, "trax_cancel", str(run_id)],
        env=child_process_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cancel.returncode == 0, cancel.stderr
    assert "Cancellation requested for 1 active run" in cancel.stdout
    GATE.release.set()  # the first junction finishes; the flag is read before the second
    running.join()

    assert isinstance(running.error, trax.TrainCancelled)
    assert not GATE.reached_second.is_set()
    run = Metadata.objects.get(id=run_id)
    assert run.train_state == TrainState.CANCELLED
    assert run.cancel_reason == CancelReason.OPERATOR
    assert run.cancellation_requested
    assert run.currently_running_junction == ""


def test_a_flag_set_through_another_connection_stops_the_run() -> None:
    running = RunInThread(Gated, Wait(30))
    assert GATE.started.wait(10)
    run_id = GATE.run_ids[0]

    Metadata.objects.filter(id=run_id).update(cancellation_requested=True)
    GATE.release.set()
    running.join()

    assert isinstance(running.error, trax.TrainCancelled)
    assert Metadata.objects.get(id=run_id).train_state == TrainState.CANCELLED


def test_cancelling_a_parent_flags_and_stops_its_running_child() -> None:
    running = RunInThread(ParentOfGated, Wait(30))
    assert GATE.started.wait(10)
    child_id = GATE.run_ids[0]
    parent_id = Metadata.objects.get(id=child_id).parent_id
    assert parent_id is not None

    assert trax.cancel_run(parent_id) == 2
    GATE.release.set()
    running.join()

    assert isinstance(running.error, trax.TrainCancelled)
    parent, child = Metadata.objects.get(id=parent_id), Metadata.objects.get(id=child_id)
    assert (parent.train_state, parent.cancel_reason) == (TrainState.CANCELLED, "operator")
    assert (child.train_state, child.cancel_reason) == (TrainState.CANCELLED, "parent")


def test_a_cancel_made_in_the_executing_process_interrupts_at_once() -> None:
    running = RunInThread("tests.sleeps", {"seconds": 30})
    assert GATE.started.wait(10)
    run_id = Metadata.objects.get(train_state=TrainState.IN_PROGRESS).pk

    trax.cancel_run(run_id)
    running.join()  # within seconds, though the junction sleeps for 30

    assert isinstance(running.error, trax.TrainCancelled)
    assert Metadata.objects.get(id=run_id).train_state == TrainState.CANCELLED


def test_with_flag_polling_off_the_flag_alone_does_not_stop_the_run(settings: object) -> None:
    settings.TRAX = {"CANCELLATION_FLAG_POLLING": False}  # type: ignore[attr-defined]
    running = RunInThread(Gated, Wait(30))
    assert GATE.started.wait(10)
    run_id = GATE.run_ids[0]

    Metadata.objects.filter(id=run_id).update(cancellation_requested=True)
    GATE.release.set()
    running.join()

    assert running.error is None
    assert Metadata.objects.get(id=run_id).train_state == TrainState.COMPLETED
