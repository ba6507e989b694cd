"""Writer of the one run record a housekeeping cycle leaves: when it fails."""

from __future__ import annotations

from django.db import transaction

from trax.core import FailureContext
from trax.models import TrainState
from trax.store.runs.metadata import (
    HostStamp,
    RunOutcome,
    metadata_create,
    metadata_finish,
    metadata_start,
)


def record_housekeeping_failure(
    name: str, context: FailureContext, *, host: HostStamp, using: str
) -> int:
    """Record a failed run of a housekeeping train (manager, dispatcher) with its failure, on
    the process's ``host``."""
    with transaction.atomic(using=using):
        row = metadata_create(name=name, input=None, using=using)
        metadata_start(row.pk, host=host, using=using)
        metadata_finish(
            row.pk,
            RunOutcome(
                state=TrainState.FAILED,
                failure_junction=context.junction_name,
                failure_exception=context.exception_type,
                failure_reason=context.message,
                stack_trace=context.stack_trace,
            ),
            using=using,
        )
    return row.pk
