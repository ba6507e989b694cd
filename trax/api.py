"""The public Python API of recorded runs: ``trax.run``, ``trax.run_result``, ``trax.arun``,
``trax.cancel_run``."""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections
from django.db.models import Q

from trax.core import CancellationToken, Result, Train, TraxError
from trax.effects.cancel import cancel_run_tree
from trax.effects.from_settings import default_service
from trax.models import CancelReason, Metadata, WorkQueue
from trax.registry import registered
from trax.store import run_records_alias, work_queue_cancel_lineage


def run_result(
    train: type[Train[Any, Any]] | str,
    input: Any = None,
    *,
    token: CancellationToken | None = None,
) -> Result[Any]:
    """Run a train now, in this thread, with a metadata record; returns Success or Failure.

    ``train`` is a Train class or a registered name; ``input`` an instance of the train's input
    type or JSON-like data for it. Raises TrainCancelled when cancelled, UnknownTrainError or
    InputValidationError before anything is written.
    """
    execution = default_service().run(registered(train), input, token=token)
    if execution.cancelled is not None:
        raise execution.cancelled
    assert execution.result is not None
    return execution.result


def run(
    train: type[Train[Any, Any]] | str,
    input: Any = None,
    *,
    token: CancellationToken | None = None,
) -> Any:
    """Run a train now with a metadata record and return its output; re-raise its failure."""
    return run_result(train, input, token=token).unwrap()


async def arun(
    train: type[Train[Any, Any]] | str,
    input: Any = None,
    *,
    token: CancellationToken | None = None,
) -> Any:
    """``trax.run`` from async code: the train runs on a pool thread, not the event loop's, with
    connections of its own that are closed when it ends (a pool thread may idle for long)."""

    def run_in_thread() -> Any:
        try:
            return run(train, input, token=token)
        finally:
            connections.close_all()

    return await sync_to_async(run_in_thread, thread_sensitive=False)()


def cancel_run(run: int | str | uuid.UUID, *, reason: CancelReason = CancelReason.OPERATOR) -> int:
    """Cancel a run (by id or external id) and its child runs; returns how many were active.

    Pending runs become ``cancelled`` at once; running ones are flagged and stop at their next
    junction boundary (at once if they run in this process). Finished runs are left alone. The
    external id ``trax.enqueue`` returned works too: it cancels what of that lineage is still
    queued and its latest run.
    """
    if reason not in CancelReason.values:
        raise ValueError(f"reason must be one of {CancelReason.values}; got {reason!r}")
    alias = run_records_alias()
    metadata_id, lineage = _resolve(run, alias)
    cancelled = work_queue_cancel_lineage(lineage, using=alias) if lineage is not None else 0
    if metadata_id is None:
        return cancelled
    result = cancel_run_tree(metadata_id, reason=CancelReason(reason), using=alias)
    return result.flagged + cancelled


class UnknownRunError(TraxError, LookupError):
    """No run has that id or external id."""


def _resolve(run: int | str | uuid.UUID, alias: str) -> tuple[int | None, int | None]:
    """The run to cancel and, for a work entry's id, the lineage (origin entry id)."""
    runs = Metadata.objects.using(alias)
    if isinstance(run, bool):
        raise UnknownRunError(f"not a run id: {run!r}")
    if isinstance(run, int):
        found = runs.filter(id=run).values_list("id", flat=True).first()
        if found is None:
            raise UnknownRunError(f"no run has the id {run!r}")
        return found, None
    try:
        external = run if isinstance(run, uuid.UUID) else uuid.UUID(str(run))
    except ValueError:
        raise UnknownRunError(f"{run!r} is neither a run id nor a run external id") from None
    found = runs.filter(external_id=external).values_list("id", flat=True).first()
    if found is not None:
        return found, None
    entry = (
        WorkQueue.objects.using(alias)
        .filter(external_id=external)
        .values_list("id", "origin_id")
        .first()
    )
    if entry is None:
        raise UnknownRunError(f"no run or queued work has the id {run!r}")
    origin = entry[1] or entry[0]
    latest = (
        runs.filter(Q(work_queue_id=origin) | Q(work_queue__origin_id=origin))
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return latest, origin
