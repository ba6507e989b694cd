"""Running a bulk operation in the background of the serving process: every matching id, in
batches of :data:`~dashboard.bulk.actions.BATCH` by descending key, the progress written after
each batch, one audit record at the end."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connections

from dashboard.bulk.actions import BATCH, bulk_action
from trax.models import BulkOperation
from trax.store import (
    audit_record,
    bulk_operation_advance,
    bulk_operation_finish,
    run_records_alias,
)

logger = logging.getLogger("dashboard.bulk")

_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()


def run_bulk(operation_id: int) -> None:
    """Apply the operation's action to every object its page's filter matches now, by key,
    so objects the action itself moves out of the filter are neither skipped nor repeated."""
    using = run_records_alias()
    operation = BulkOperation.objects.using(using).get(id=operation_id)
    action = bulk_action(operation.page, operation.action)
    params = {str(k): str(v) for k, v in operation.params.items()}
    error = ""
    processed = changed = 0
    try:
        matching = action.matching(operation.query)
        bulk_operation_advance(operation_id, total=matching.count(), using=using)
        before: int | None = None
        while True:
            batch = matching.order_by("-pk")
            if before is not None:
                batch = batch.filter(pk__lt=before)
            ids = list(batch.values_list("pk", flat=True)[:BATCH])
            if not ids:
                break
            done = action.apply(ids, operation.actor, params)
            processed += len(ids)
            changed += done
            bulk_operation_advance(operation_id, processed=len(ids), changed=done, using=using)
            before = ids[-1]
    except Exception as failure:
        logger.exception("bulk operation %s (%s.%s) failed", operation_id, action.page, action.name)
        error = f"{type(failure).__name__}: {failure}"
    audit_record(
        actor=operation.actor,
        action=f"{operation.page}.{operation.action}",
        target=f"bulk:{operation_id}",
        detail={
            "all_matching": operation.query,
            "params": params,
            "matched": processed,
            "changed": changed,
            **({"error": error} if error else {}),
        },
        using=using,
    )
    bulk_operation_finish(operation_id, error=error, using=using)


def launch(operation_id: int) -> threading.Thread:
    """Run the operation on a thread of its own (its connections closed when it ends)."""

    def work() -> None:
        try:
            close_old_connections()
            run_bulk(operation_id)
        except Exception:
            logger.exception("bulk operation %s could not run", operation_id)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, name=f"trax-bulk-{operation_id}", daemon=True)
    with _threads_lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        _threads.append(thread)
    thread.start()
    return thread


def wait_for_bulk_operations(timeout: float) -> bool:
    """Wait for this process's bulk operations to end (tests, shutdown); False on timeout."""
    with _threads_lock:
        threads = list(_threads)
    for thread in threads:
        thread.join(timeout)
    return not any(thread.is_alive() for thread in threads)
