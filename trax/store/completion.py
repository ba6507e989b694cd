"""Recording finished runs in batches: one transaction for many completions, each fenced by
its claim token, so a worker that lost its claim cannot overwrite a newer attempt's result."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction

from trax.events.channels import CAPACITY_FREED
from trax.events.notify import notify
from trax.models import CancelReason, TrainState, WorkQueue
from trax.store.clock import database_now_sql
from trax.store.metadata import RunOutcome


@dataclass(frozen=True)
class Completion:
    """A run's outcome to record, with the claim it must still hold."""

    metadata_id: int
    claim_token: uuid.UUID
    outcome: RunOutcome
    manifest_id: int | None = None
    requeue: WorkQueue | None = None  # a shutdown-cancelled run queued again as a new attempt


_FINISH_POSTGRESQL = """
UPDATE trax_metadata AS run SET train_state = done.state, end_time = STATEMENT_TIMESTAMP(),
    output = done.output, failure_junction = done.junction, failure_exception = done.exception,
    failure_reason = done.reason, stack_trace = done.trace,
    cancel_reason = CASE WHEN run.cancel_reason = '' THEN done.cancel ELSE run.cancel_reason END,
    currently_running_junction = '', junction_started_at = NULL
FROM unnest(%s::bigint[], %s::text[], %s::jsonb[], %s::text[], %s::text[], %s::text[],
            %s::text[], %s::text[])
    AS done(id, state, output, junction, exception, reason, trace, cancel)
WHERE run.id = done.id AND run.train_state = 'in_progress'
"""


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
    )


def background_job_complete(completions: Sequence[Completion], *, using: str) -> set[int]:
    """Finish many runs in one transaction: each ``in_progress`` run still claimed with its
    token gets its outcome; its job row is deleted; a completed manifest run stamps the
    manifest's last success (a ``once`` manifest disables itself); a shutdown-cancelled run is
    queued again. Returns the ids that landed (the others had lost their claim)."""
    if not completions:
        return set()
    connection = connections[using]
    now = database_now_sql(connection.vendor)
    token = (lambda t: t) if connection.vendor == "postgresql" else (lambda t: t.hex)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        # Take back our claims first: locking the job rows (id order, like the heartbeat and
        # the reaper) and deleting them proves each claim still held; a run whose claim was
        # reaped or passed on is left as its new owner sets it.
        pairs = ", ".join(["(%s, %s)"] * len(completions))
        values = [v for c in completions for v in (c.metadata_id, token(c.claim_token))]
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT id FROM trax_background_job WHERE (metadata_id, claim_token) IN "
                f"(VALUES {pairs}) ORDER BY id FOR UPDATE",
                values,
            )
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
        lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
        cursor.execute(
            f"SELECT id FROM trax_metadata WHERE id IN ({held_in}) "
            f"AND train_state = 'in_progress'{lock}",
            held,
        )
        landed = {row[0] for row in cursor.fetchall()}
        mine = [c for c in completions if c.metadata_id in landed]
        if not mine:
            return landed
        if connection.vendor == "postgresql":
            # One statement for the batch: per-row statements cost the worker more than the run.
            columns = list(zip(*(_outcome_row(c) for c in mine), strict=True))
            cursor.execute(_FINISH_POSTGRESQL, [list(column) for column in columns])
        else:
            cursor.executemany(
                f"UPDATE trax_metadata SET train_state = %s, end_time = {now}, "
                "output = %s, failure_junction = %s, failure_exception = %s, "
                "failure_reason = %s, stack_trace = %s, "
                "cancel_reason = CASE WHEN cancel_reason = '' THEN %s ELSE cancel_reason END, "
                "currently_running_junction = '', junction_started_at = NULL "
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
        candidates = [
            c
            for c in mine
            if c.requeue is not None
            and c.outcome.state == TrainState.CANCELLED
            and c.outcome.cancel_reason == CancelReason.SHUTDOWN
        ]
        requeues: list[WorkQueue] = []
        if candidates:
            # The stored reason decides: an operator's earlier cancel is never requeued.
            ids_in = ", ".join(["%s"] * len(candidates))
            cursor.execute(
                f"SELECT id FROM trax_metadata WHERE id IN ({ids_in}) AND cancel_reason = %s",
                [*(c.metadata_id for c in candidates), CancelReason.SHUTDOWN.value],
            )
            shut_down = {row[0] for row in cursor.fetchall()}
            requeues = [c.requeue for c in candidates if c.requeue and c.metadata_id in shut_down]
        if requeues:
            WorkQueue.objects.using(using).bulk_create(requeues, ignore_conflicts=True)
        notify(CAPACITY_FREED, using=using)
    return landed
