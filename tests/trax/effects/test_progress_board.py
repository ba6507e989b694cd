"""Junction progress inside workers: noted in memory at each junction, published in one
statement per heartbeat; a run shorter than a beat costs no progress write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from trax.core import CancellationToken, JunctionSpec, RunContext
from trax.effects.observer import RunEffects
from trax.effects.progress import ProgressBoard, current_board
from trax.models import Metadata, TrainState
from trax.store import database_now

pytestmark = pytest.mark.django_db


def run_row(state: str = TrainState.IN_PROGRESS) -> Metadata:
    return Metadata.objects.create(name="demo.slow", train_state=state)


def effects_for(run: Metadata) -> RunEffects:
    context = RunContext(train_name=run.name, token=CancellationToken(), run_id=run.pk)
    return RunEffects(
        run=context,
        alias="default",
        progress=True,
        poll_cancel_flag=False,
        logs=None,
        providers=[],
    )


def spec(name: str) -> JunctionSpec:
    return JunctionSpec(
        name=name,
        target=lambda value: value,
        inputs=(),
        token_parameter=None,
        output=None,
        is_async=False,
        is_class=False,
    )


def test_on_a_worker_thread_a_junction_is_noted_without_a_statement() -> None:
    run = run_row()
    board = ProgressBoard()
    token = current_board.set(board)
    try:
        with CaptureQueriesContext(connection) as queries:
            effects_for(run).before_junction(spec("fetch"))
    finally:
        current_board.reset(token)

    assert len(queries) == 0
    assert [(p.run_id, p.junction) for p in board.pending()] == [(run.pk, "fetch")]
    run.refresh_from_db()
    assert run.currently_running_junction == ""


def test_outside_a_worker_the_junction_is_written_at_once() -> None:
    run = run_row()

    effects_for(run).before_junction(spec("fetch"))

    run.refresh_from_db()
    assert run.currently_running_junction == "fetch" and run.junction_started_at is not None


def test_a_publish_writes_the_junctions_with_their_start_in_database_time() -> None:
    running, finished = run_row(), run_row(TrainState.COMPLETED)
    board = ProgressBoard()
    board.note(running.pk, "fetch")
    board.note(finished.pk, "fetch")

    assert board.publish(using="default") == 1  # a finished run is left alone

    running.refresh_from_db()
    finished.refresh_from_db()
    assert running.currently_running_junction == "fetch"
    assert running.junction_started_at is not None
    assert database_now() - timedelta(seconds=5) < running.junction_started_at <= database_now()
    assert finished.currently_running_junction == ""


def test_only_what_changed_is_published_again() -> None:
    run = run_row()
    board = ProgressBoard()
    board.note(run.pk, "fetch")
    board.publish(using="default")

    assert board.pending() == []
    assert board.publish(using="default") == 0

    board.note(run.pk, "store")
    assert [p.junction for p in board.pending()] == ["store"]


def test_a_forgotten_run_is_not_published() -> None:
    run = run_row()
    board = ProgressBoard()
    board.note(run.pk, "fetch")
    board.forget(run.pk)

    assert board.pending() == []
