"""Writers of bulk operations (``trax_bulk_operation``): started, advanced batch by batch,
finished; each write tells open console pages."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now

from trax.events.notify import notify_changed
from trax.models import BulkOperation


def bulk_operation_start(
    *, actor: str, page: str, action: str, query: str, params: dict[str, Any], using: str
) -> BulkOperation:
    """Record a bulk operation as running."""
    with transaction.atomic(using=using):
        operation = BulkOperation.objects.using(using).create(
            actor=actor[:255], page=page, action=action, query=query, params=params
        )
        notify_changed("bulk", using=using)
    return operation


def bulk_operation_advance(
    operation_id: int,
    *,
    processed: int = 0,
    changed: int = 0,
    total: int | None = None,
    using: str,
) -> None:
    """Add a batch's counts (and set the total once known)."""
    fields: dict[str, Any] = {
        "processed": F("processed") + processed,
        "changed": F("changed") + changed,
        "updated_at": Now(),
    }
    if total is not None:
        fields["total"] = total
    with transaction.atomic(using=using):
        BulkOperation.objects.using(using).filter(id=operation_id).update(**fields)
        notify_changed("bulk", using=using)


def bulk_operation_finish(operation_id: int, *, error: str = "", using: str) -> None:
    """Mark the operation done, or failed with ``error``."""
    state = BulkOperation.State.FAILED if error else BulkOperation.State.DONE
    with transaction.atomic(using=using):
        BulkOperation.objects.using(using).filter(id=operation_id).update(
            state=state, error=error, finished_at=Now(), updated_at=Now()
        )
        notify_changed("bulk", using=using)
