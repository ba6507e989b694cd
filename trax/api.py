"""The public Python API of recorded runs: ``trax.run``, ``trax.run_result``, ``trax.arun``,
``trax.cancel_run``."""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections

from trax.core import CancellationToken, Result, Train, TrainCancelled, TraxError
from trax.effects import local_tokens
from trax.effects.service import default_service
from trax.models import CancelReason, Metadata
from trax.registry import resolve_train
from trax.store import metadata_request_cancel, run_records_alias


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
    execution = default_service().run(resolve_train(train), input, token=token)
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
    junction boundary (at once if they run in this process). Finished runs are left alone.
    """
    if reason not in CancelReason.values:
        raise ValueError(f"reason must be one of {CancelReason.values}; got {reason!r}")
    metadata_id = _resolve_run_id(run)
    result = metadata_request_cancel(metadata_id, reason=CancelReason(reason))
    local_tokens.fire(list(result.run_ids), CancelReason(reason))
    return result.flagged


class UnknownRunError(TraxError, LookupError):
    """No run has that id or external id."""


def _resolve_run_id(run: int | str | uuid.UUID) -> int:
    runs = Metadata.objects.using(run_records_alias())
    if isinstance(run, bool):
        raise UnknownRunError(f"not a run id: {run!r}")
    if isinstance(run, int):
        found = runs.filter(id=run).values_list("id", flat=True).first()
    else:
        try:
            external = run if isinstance(run, uuid.UUID) else uuid.UUID(str(run))
        except ValueError:
            raise UnknownRunError(f"{run!r} is neither a run id nor a run external id") from None
        found = runs.filter(external_id=external).values_list("id", flat=True).first()
    if found is None:
        raise UnknownRunError(f"no run has the id {run!r}")
    return found


__all__ = ["TrainCancelled", "UnknownRunError", "arun", "cancel_run", "run", "run_result"]
