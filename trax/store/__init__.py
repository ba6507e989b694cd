"""The only writers of queue and run state (DESIGN.md §2), named entity_verb."""

from trax.store.alias import run_records_alias
from trax.store.audit import audit_record
from trax.store.clock import database_now
from trax.store.dead_letter import (
    dead_letter_acknowledge,
    dead_letter_create,
    dead_letter_purge_resolved,
    dead_letter_retry,
)
from trax.store.direct import work_queue_enqueue_direct
from trax.store.leader import leader_acquire, leader_release
from trax.store.logs import log_write_batch
from trax.store.manifest import (
    Occurrence,
    manifest_advance,
    manifest_queue_dependent,
    manifest_queue_occurrences,
    manifest_record_success,
    manifest_set_enabled,
)
from trax.store.metadata import (
    CancelRequestResult,
    CancelSignal,
    HostStamp,
    JunctionProgress,
    RunOutcome,
    metadata_create,
    metadata_delete_finished,
    metadata_fail_in_progress,
    metadata_fail_stale_pending,
    metadata_finish,
    metadata_mark_junction,
    metadata_publish_progress,
    metadata_read_cancel_flag,
    metadata_request_cancel,
    metadata_start,
)
from trax.store.work_queue import (
    work_queue_cancel_lineage,
    work_queue_insert,
    work_queue_insert_skipping_conflicts,
    work_queue_trigger,
)

__all__ = [
    "CancelRequestResult",
    "CancelSignal",
    "HostStamp",
    "JunctionProgress",
    "Occurrence",
    "RunOutcome",
    "audit_record",
    "database_now",
    "dead_letter_acknowledge",
    "dead_letter_create",
    "dead_letter_purge_resolved",
    "dead_letter_retry",
    "leader_acquire",
    "leader_release",
    "log_write_batch",
    "manifest_advance",
    "manifest_queue_dependent",
    "manifest_queue_occurrences",
    "manifest_record_success",
    "manifest_set_enabled",
    "metadata_create",
    "metadata_delete_finished",
    "metadata_fail_in_progress",
    "metadata_fail_stale_pending",
    "metadata_finish",
    "metadata_mark_junction",
    "metadata_publish_progress",
    "metadata_read_cancel_flag",
    "metadata_request_cancel",
    "metadata_start",
    "run_records_alias",
    "work_queue_cancel_lineage",
    "work_queue_enqueue_direct",
    "work_queue_insert",
    "work_queue_insert_skipping_conflicts",
    "work_queue_trigger",
]
