"""Which failed runs count toward a manifest's retries and dead letter: the read the manager's
failure-streak step and the retention (which must keep them) share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import DateTimeField, Exists, OuterRef, Q, Value
from django.db.models.functions import Coalesce, Greatest

from trax.models import DeadLetter, DeadLetterStatus, FailureKind, Metadata, TrainState, WorkQueue

_NEVER = Value(datetime(1970, 1, 1, tzinfo=UTC), output_field=DateTimeField())


def metadata_counted_failures(using: str) -> Any:
    """Failed manifest runs that count toward retries and dead letters.

    A failure counts when it ended after the manifest's last success and after its failure
    watermark (where a dead letter's resolution settled the failures before it): so the read
    is a range on ``trax_metadata_streak_idx`` per manifest, as long as the streak, however long
    the history. Cancelled runs are not failures. A ``DispatchFailed`` run the dispatcher
    already requeued (it has a retry entry) does not count: only the final failed dispatch
    does. Manifests awaiting an operator are left out.
    """
    awaiting = DeadLetter.objects.using(using).filter(
        status=DeadLetterStatus.AWAITING_INTERVENTION, manifest_id=OuterRef("manifest_id")
    )
    # The dispatcher's own requeue carries dispatch_attempts > 0; the retry step's does not.
    requeued = WorkQueue.objects.using(using).filter(
        retry_of_id=OuterRef("pk"), dispatch_attempts__gt=0
    )
    return (
        Metadata.objects.using(using)
        .filter(
            train_state=TrainState.FAILED, manifest__isnull=False, end_time__gt=settled_before()
        )
        .exclude(Exists(awaiting))
        .exclude(Q(failure_exception=FailureKind.DISPATCH_FAILED) & Exists(requeued))
    )


def settled_before() -> Greatest:
    """A failed run's manifest's settled point: its last success or its watermark, whichever
    is later (failures ending by then count toward nothing)."""
    return Greatest(
        Coalesce("manifest__last_successful_run", _NEVER),
        Coalesce("manifest__failure_watermark", _NEVER),
    )
