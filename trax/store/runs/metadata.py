"""Writers of run state (``trax_metadata``). Every transition is a guarded UPDATE: zero rows
means someone else got there first, and the caller backs off."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connections, transaction
from django.db.models import Case, Count, F, Q, Value, When
from django.db.models.functions import Now

from trax.events.channels import CHANGED, RUN_CANCEL
from trax.events.notify import notify, notify_changed
from trax.models import (
    CancelReason,
    FailureKind,
    Metadata,
    TrainState,
)
from trax.store.alias import run_records_alias
from trax.store.clock import database_now_sql

ExtraWrite = Callable[[], None]


@dataclass(frozen=True)
class HostStamp:
    """Where a run executes, stamped when it starts."""

    name: str = ""
    environment: str = ""
    instance_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, as the finish transition records it. Text is made storable (a NUL in
    an exception message would make PostgreSQL refuse the whole write). ``junction_timings``:
    the junctions the run reached, in order, as ``Metadata.junction_timings`` stores them (None
    when nothing executed them: refusals, housekeeping writers)."""

    state: TrainState
    output: Any = None
    failure_junction: str = ""
    failure_exception: str = ""
    failure_reason: str = ""
    stack_trace: str = ""
    cancel_reason: str = ""
    junction_timings: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        for name in ("failure_junction", "failure_exception", "failure_reason", "stack_trace"):
            value = getattr(self, name)
            if "\x00" in value:
                object.__setattr__(self, name, value.replace("\x00", "\\x00"))


def metadata_create(
    *,
    name: str,
    input: Any,
    parent_id: int | None = None,
    manifest_id: int | None = None,
    work_queue_id: int | None = None,
    attempt: int = 1,
    scheduled_time: datetime | None = None,
    executor: str = "",
    external_id: uuid.UUID | None = None,
    using: str | None = None,
) -> Metadata:
    """Insert a ``pending`` run (no lock: a new row)."""
    return Metadata.objects.using(using or run_records_alias()).create(
        name=name,
        input=input,
        parent_id=parent_id,
        manifest_id=manifest_id,
        work_queue_id=work_queue_id,
        attempt=attempt,
        scheduled_time=scheduled_time,
        executor=executor,
        external_id=external_id or uuid.uuid4(),
    )


def metadata_start(
    metadata_id: int,
    *,
    host: HostStamp,
    executor: str = "",
    also: Sequence[ExtraWrite] = (),
    using: str | None = None,
) -> bool:
    """``pending -> in_progress`` (start_time from the database clock), guarded by state;
    ``also`` runs in the same transaction only if the start happened. False when the
    row was no longer pending (cancelled, reaped, or started by someone else)."""
    alias = using or run_records_alias()
    with transaction.atomic(using=alias):
        rows = Metadata.objects.using(alias).filter(id=metadata_id, train_state=TrainState.PENDING)
        started = rows.update(
            train_state=TrainState.IN_PROGRESS,
            start_time=Now(),
            executor=executor,
            host_name=host.name,
            host_environment=host.environment,
            host_instance_id=host.instance_id,
            host_labels=host.labels,
        )
        if started != 1:
            return False
        for write in also:
            write()
        notify_changed("runs", using=alias)
    return True


def metadata_finish(
    metadata_id: int,
    outcome: RunOutcome,
    *,
    also: Sequence[ExtraWrite] = (),
    using: str | None = None,
) -> bool:
    """``in_progress -> completed | failed | cancelled`` with output or failure fields and the
    junction timings (same statement); clears the junction progress columns. Guarded by state;
    ``also`` shares the transaction. False when the run was no longer ours to finish (reaped
    or fenced)."""
    alias = using or run_records_alias()
    keep_first_reason = Case(
        When(cancel_reason="", then=Value(outcome.cancel_reason)), default=F("cancel_reason")
    )
    with transaction.atomic(using=alias):
        rows = Metadata.objects.using(alias).filter(
            id=metadata_id, train_state=TrainState.IN_PROGRESS
        )
        finished = rows.update(
            train_state=outcome.state,
            end_time=Now(),
            output=outcome.output,
            failure_junction=outcome.failure_junction,
            failure_exception=outcome.failure_exception,
            failure_reason=outcome.failure_reason,
            stack_trace=outcome.stack_trace,
            cancel_reason=keep_first_reason,
            junction_timings=outcome.junction_timings,
            currently_running_junction="",
            junction_started_at=None,
        )
        if finished != 1:
            return False
        for write in also:
            write()
        notify_changed("runs", using=alias)
    return True


@dataclass(frozen=True)
class CancelSignal:
    """The cancellation flag of a run as read at a junction boundary."""

    requested: bool
    reason: str


def metadata_mark_junction(
    metadata_id: int, junction_name: str, *, using: str | None = None
) -> CancelSignal:
    """Record the junction now running and read the cancellation flag, in one statement."""
    alias = using or run_records_alias()
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE trax_metadata SET currently_running_junction = %s, "
            f"junction_started_at = {database_now_sql(connection.vendor)} "
            "WHERE id = %s AND train_state = 'in_progress' "
            "RETURNING cancellation_requested, cancel_reason",
            [junction_name, metadata_id],
        )
        row = cursor.fetchone()
    return CancelSignal(bool(row[0]), row[1] or "") if row else CancelSignal(False, "")


@dataclass(frozen=True)
class JunctionProgress:
    """The junction a run is in, entered ``age`` seconds ago."""

    run_id: int
    junction: str
    age: float


def metadata_publish_progress(changes: Sequence[JunctionProgress], *, using: str) -> int:
    """Record the running junction of many runs in one statement, each started ``age`` seconds
    before the database's now; runs no longer in progress are left alone."""
    if not changes:
        return 0
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE trax_metadata AS run SET currently_running_junction = v.junction, "
                "junction_started_at = STATEMENT_TIMESTAMP() - make_interval(secs => v.age) "
                "FROM unnest(%s::bigint[], %s::text[], %s::float8[]) AS v(id, junction, age) "
                "WHERE run.id = v.id AND (run.train_state = 'in_progress') IS TRUE "
                "RETURNING pg_notify(%s, 'runs') IS NULL",  # open pages show the progress
                [
                    [c.run_id for c in changes],
                    [c.junction for c in changes],
                    [c.age for c in changes],
                    CHANGED,
                ],
            )
            return cursor.rowcount
        written = 0
        for c in changes:
            cursor.execute(
                "UPDATE trax_metadata SET currently_running_junction = %s, "
                "junction_started_at = STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW', %s) "
                "WHERE id = %s AND train_state = 'in_progress'",
                [c.junction, f"-{c.age:.6f} seconds", c.run_id],
            )
            written += cursor.rowcount
        return written


def metadata_read_cancel_flag(metadata_id: int, *, using: str | None = None) -> CancelSignal:
    """Read the cancellation flag alone (junction progress switched off)."""
    alias = using or run_records_alias()
    row = (
        Metadata.objects.using(alias)
        .filter(id=metadata_id)
        .values_list("cancellation_requested", "cancel_reason")
        .first()
    )
    return CancelSignal(bool(row[0]), row[1]) if row else CancelSignal(False, "")


@dataclass(frozen=True)
class CancelRequestResult:
    """What a cancel request did: runs flagged (running ones stop at their next check) and
    pending runs cancelled outright."""

    flagged: int
    cancelled_pending: int
    run_ids: tuple[int, ...]


_DESCENDANTS_SQL = (
    "WITH RECURSIVE tree(id) AS ("
    " SELECT id FROM trax_metadata WHERE id = %s"
    " UNION ALL"
    " SELECT child.id FROM trax_metadata child JOIN tree ON child.parent_id = tree.id"
    ") SELECT id FROM tree"
)


def metadata_request_cancel(
    metadata_id: int, *, reason: CancelReason = CancelReason.OPERATOR, using: str | None = None
) -> CancelRequestResult:
    """Flag a run and all its descendants for cancellation (descendants get reason
    ``parent``) and turn the pending ones straight to ``cancelled``; finished runs are left
    alone. Guarded by state, so a run that finishes meanwhile keeps its outcome."""
    alias = using or run_records_alias()
    with transaction.atomic(using=alias):
        with connections[alias].cursor() as cursor:
            cursor.execute(_DESCENDANTS_SQL, [metadata_id])
            tree = [row[0] for row in cursor.fetchall()]
        active = Metadata.objects.using(alias).filter(
            id__in=tree, train_state__in=(TrainState.PENDING, TrainState.IN_PROGRESS)
        )
        run_ids = tuple(active.values_list("id", flat=True))
        flagged = active.update(
            cancellation_requested=True,
            cancel_reason=Case(
                When(~Q(cancel_reason=""), then=F("cancel_reason")),
                When(id=metadata_id, then=Value(reason)),
                default=Value(CancelReason.PARENT),
            ),
        )
        cancelled_pending = (
            Metadata.objects.using(alias)
            .filter(id__in=run_ids, train_state=TrainState.PENDING)
            .update(train_state=TrainState.CANCELLED, end_time=Now())
        )
        for start in range(0, len(run_ids), 500):  # NOTIFY payloads stay under 8,000 bytes
            notify(RUN_CANCEL, ",".join(str(i) for i in run_ids[start : start + 500]), using=alias)
    return CancelRequestResult(flagged, cancelled_pending, run_ids)


def metadata_fail_stale_pending(
    created_before: datetime, *, reason: str, using: str | None = None
) -> int:
    """Fail ``pending`` runs created before the cutoff that no worker holds: no background job
    row (so no claim) exists for them. Guarded by state."""
    alias = using or run_records_alias()
    return (
        Metadata.objects.using(alias)
        .filter(
            train_state=TrainState.PENDING,
            created_at__lt=created_before,
            background_job__isnull=True,
        )
        .update(
            train_state=TrainState.FAILED,
            end_time=Now(),
            failure_exception=FailureKind.STALE_PENDING,
            failure_reason=reason,
        )
    )


def metadata_fail_in_progress(
    metadata_ids: Sequence[int], *, exception: str, reason: str, using: str | None = None
) -> int:
    """Fail ``in_progress`` runs whose executor is gone (guarded by state); the retry rules
    then apply. Clears the progress columns."""
    if not metadata_ids:
        return 0
    alias = using or run_records_alias()
    return (
        Metadata.objects.using(alias)
        .filter(id__in=metadata_ids, train_state=TrainState.IN_PROGRESS)
        .update(
            train_state=TrainState.FAILED,
            end_time=Now(),
            failure_exception=exception,
            failure_reason=reason,
            currently_running_junction="",
            junction_started_at=None,
        )
    )


#: Runs of the engine's own trains (manager, dispatcher cycles) count against no cap.
HOUSEKEEPING_PREFIX = "trax."


def _active(using: str) -> Any:
    return (
        Metadata.objects.using(using)
        .filter(train_state__in=(TrainState.PENDING, TrainState.IN_PROGRESS))
        .exclude(name__startswith=HOUSEKEEPING_PREFIX)
    )


def metadata_count_active(*, using: str) -> int:
    """Pending and in-progress runs (housekeeping excluded): reads only active rows."""
    return int(_active(using).count())


def metadata_count_active_by_group(group_ids: Sequence[int], *, using: str) -> dict[int, int]:
    """Pending and in-progress runs per manifest group, for the groups given."""
    if not group_ids:
        return {}
    return dict(
        _active(using)
        .filter(manifest__group_id__in=list(group_ids))
        .order_by()
        .values_list("manifest__group_id")
        .annotate(n=Count("id"))
        .values_list("manifest__group_id", "n")
    )


def metadata_cancel_flagged(run_ids: Sequence[int], *, using: str) -> list[int]:
    """Which of these runs have their cancellation flag set (a watcher's periodic check)."""
    if not run_ids:
        return []
    return list(
        Metadata.objects.using(using)
        .filter(id__in=list(run_ids), cancellation_requested=True)
        .values_list("id", flat=True)
    )
