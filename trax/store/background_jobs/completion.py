"""Recording finished runs in batches: one transaction for many completions, each fenced by
its claim token, so a worker that lost its claim cannot overwrite a newer attempt's result."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction

from trax.events.channels import CAPACITY_FREED, WORK_QUEUED
from trax.events.notify import notify
from trax.models import CancelReason, Log, TrainState, WorkQueue
from trax.store.clock import database_now_sql
from trax.store.queries import execute_named
from trax.store.runs.metadata import RunOutcome
from trax.store.work_entries.queue import NewWorkEntry


@dataclass(frozen=True)
class Completion:
    """A run's outcome to record, with the claim it must still hold."""

    metadata_id: int
    claim_token: uuid.UUID
    outcome: RunOutcome
    manifest_id: int | None = None
    requeue: NewWorkEntry | None = None  # a shutdown-cancelled run queued again
    logs: tuple[Log, ...] = ()  # the run's last captured log records, written with the batch


def _outcome_row(c: Completion) -> tuple[Any, ...]:
    outcome = c.outcome
    return (
        c.metadata_id,
        str(outcome.state),
        json.dumps(outcome.output) if outcome.output is not None else None,
        outcome.failure_junction,
        outcome.failure_exception,
        outcome.failure_reason,
        outcome.stack_trace,
        outcome.cancel_reason,
        json.dumps(outcome.junction_timings) if outcome.junction_timings is not None else None,
    )


def background_job_complete(completions: Sequence[Completion], *, using: str) -> set[int]:
    """Finish many runs in one transaction: each ``in_progress`` run still claimed with its
    token gets its outcome (with its junction timings); its job row is deleted; a completed
    manifest run stamps the manifest's last success (a ``once`` manifest disables itself); a
    shutdown-cancelled run is queued again. Returns the ids that landed (the others had lost
    their claim)."""
    if not completions:
        return set()
    connection = connections[using]
    if connection.vendor != "postgresql":
        return _complete_sqlite(completions, using=using)
    rows = [_outcome_row(c) for c in completions]
    columns = [list(column) for column in zip(*rows, strict=True)]
    params: dict[str, Any] = dict(zip(_COLUMNS, columns, strict=True))
    params["tokens"] = [c.claim_token for c in completions]
    params["channel"] = CAPACITY_FREED
    requeueing = any(c.requeue is not None for c in completions)
    # Alone, the batch is one statement in autocommit; a shutdown's requeue must commit with it.
    with transaction.atomic(using=using) if requeueing else nullcontext():
        finished = execute_named(connection, "background_job_complete", params)
        landed = {run_id for run_id, _, _ in finished}
        if requeueing:
            shut_down = {row[0] for row in finished if row[1] == CancelReason.SHUTDOWN}
            _requeue(completions, shut_down, using=using)
    return landed


_COLUMNS = (
    "ids",
    "states",
    "outputs",
    "junctions",
    "exceptions",
    "reasons",
    "traces",
    "cancels",
    "timings",
)


def _requeue(completions: Sequence[Completion], shut_down: set[int], *, using: str) -> None:
    """Queue shutdown-cancelled runs again; the stored reason decides, so an operator's earlier
    cancel is never requeued."""
    requeues = [
        c.requeue.row()
        for c in completions
        if c.requeue is not None
        and c.metadata_id in shut_down
        and c.outcome.state == TrainState.CANCELLED
        and c.outcome.cancel_reason == CancelReason.SHUTDOWN
    ]
    if requeues:
        WorkQueue.objects.using(using).bulk_create(requeues, ignore_conflicts=True)
        notify(WORK_QUEUED, using=using)


def _complete_sqlite(completions: Sequence[Completion], *, using: str) -> set[int]:
    connection = connections[using]
    now = database_now_sql(connection.vendor)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        pairs = ", ".join(["(%s, %s)"] * len(completions))
        values = [v for c in completions for v in (c.metadata_id, c.claim_token.hex)]
        cursor.execute(
            "DELETE FROM trax_background_job WHERE (metadata_id, claim_token) IN "
            f"(VALUES {pairs}) RETURNING metadata_id",
            values,
        )
        held = [row[0] for row in cursor.fetchall()]
        if not held:
            return set()
        # A run someone else already finished (a backstop, say) keeps that outcome.
        held_in = ", ".join(["%s"] * len(held))
        cursor.execute(
            f"SELECT id FROM trax_metadata WHERE id IN ({held_in}) AND train_state = 'in_progress'",
            held,
        )
        landed = {row[0] for row in cursor.fetchall()}
        mine = [c for c in completions if c.metadata_id in landed]
        if not mine:
            return landed
        cursor.executemany(
            f"UPDATE trax_metadata SET train_state = %s, end_time = {now}, "
            "output = %s, failure_junction = %s, failure_exception = %s, "
            "failure_reason = %s, stack_trace = %s, "
            "cancel_reason = CASE WHEN cancel_reason = '' THEN %s ELSE cancel_reason END, "
            "junction_timings = %s, currently_running_junction = '', junction_started_at = NULL "
            "WHERE id = %s AND train_state = 'in_progress'",
            [(*_outcome_row(c)[1:], c.metadata_id) for c in mine],
        )
        succeeded = [
            (c.metadata_id, c.manifest_id)
            for c in mine
            if c.manifest_id is not None and c.outcome.state == TrainState.COMPLETED
        ]
        if succeeded:
            cursor.executemany(
                "UPDATE trax_manifest SET "
                "last_successful_run = (SELECT end_time FROM trax_metadata WHERE id = %s), "
                "is_enabled = CASE WHEN schedule_type = 'once' THEN %s ELSE is_enabled END, "
                "is_enabled_overridden = CASE WHEN schedule_type = 'once' THEN %s "
                "ELSE is_enabled_overridden END "
                "WHERE id = %s",
                [(metadata_id, False, True, manifest_id) for metadata_id, manifest_id in succeeded],
            )
        candidates = [c.metadata_id for c in mine if c.requeue is not None]
        shut_down: set[int] = set()
        if candidates:
            ids_in = ", ".join(["%s"] * len(candidates))
            cursor.execute(
                f"SELECT id FROM trax_metadata WHERE id IN ({ids_in}) AND cancel_reason = %s",
                [*candidates, CancelReason.SHUTDOWN.value],
            )
            shut_down = {row[0] for row in cursor.fetchall()}
        _requeue(mine, shut_down, using=using)
    return landed
