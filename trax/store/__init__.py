"""The only writers of queue and run state (DESIGN.md §2), named entity_verb."""

from trax.store.alias import run_records_alias
from trax.store.audit import audit_record
from trax.store.background_jobs.claim import ClaimedRun, background_job_claim
from trax.store.background_jobs.completion import Completion, background_job_complete
from trax.store.background_jobs.reaper import ReapReport, background_job_reap_expired
from trax.store.batches import IsolatedWrite, write_isolating
from trax.store.clock import database_now
from trax.store.dead_letter import (
    dead_letter_acknowledge,
    dead_letter_create,
    dead_letter_purge_resolved,
    dead_letter_retry,
)
from trax.store.leader import leader_acquire, leader_release
from trax.store.logs import log_write_batch
from trax.store.manifest import (
    ManifestInUseError,
    Occurrence,
    manifest_advance,
    manifest_delete,
    manifest_deletion_blockers,
    manifest_group_caps,
    manifest_group_save,
    manifest_queue_dependent,
    manifest_queue_occurrences,
    manifest_record_success,
    manifest_save,
    manifest_set_enabled,
)
from trax.store.retention import Retired, retention_delete_finished
from trax.store.runs.housekeeping import record_housekeeping_failure
from trax.store.runs.metadata import (
    CancelRequestResult,
    CancelSignal,
    ExtraWrite,
    HostStamp,
    JunctionProgress,
    RunOutcome,
    metadata_cancel_flagged,
    metadata_count_active,
    metadata_count_active_by_group,
    metadata_create,
    metadata_fail_in_progress,
    metadata_fail_stale_pending,
    metadata_finish,
    metadata_mark_junction,
    metadata_publish_progress,
    metadata_read_cancel_flag,
    metadata_request_cancel,
    metadata_start,
)
from trax.store.runs.streaks import metadata_counted_failures
from trax.store.work_entries.direct import work_queue_enqueue_direct
from trax.store.work_entries.dispatch import (
    DispatchedRun,
    QueuedCandidate,
    QueuedEntry,
    work_queue_dispatch,
    work_queue_fail_dispatch,
    work_queue_load_due,
)
from trax.store.work_entries.queue import (
    NewWorkEntry,
    work_queue_cancel_lineage,
    work_queue_insert,
    work_queue_insert_one,
    work_queue_insert_skipping_conflicts,
    work_queue_next_attempt,
    work_queue_postpone,
    work_queue_trigger,
)
from trax.store.workers import (
    worker_heartbeat,
    worker_prune_stale,
    worker_register,
    worker_unregister,
)

__all__ = [
    "CancelRequestResult",
    "CancelSignal",
    "ClaimedRun",
    "Completion",
    "DispatchedRun",
    "ExtraWrite",
    "HostStamp",
    "IsolatedWrite",
    "JunctionProgress",
    "ManifestInUseError",
    "NewWorkEntry",
    "Occurrence",
    "QueuedCandidate",
    "QueuedEntry",
    "ReapReport",
    "Retired",
    "RunOutcome",
    "audit_record",
    "background_job_claim",
    "background_job_complete",
    "background_job_reap_expired",
    "database_now",
    "dead_letter_acknowledge",
    "dead_letter_create",
    "dead_letter_purge_resolved",
    "dead_letter_retry",
    "leader_acquire",
    "leader_release",
    "log_write_batch",
    "manifest_advance",
    "manifest_delete",
    "manifest_deletion_blockers",
    "manifest_group_caps",
    "manifest_group_save",
    "manifest_queue_dependent",
    "manifest_queue_occurrences",
    "manifest_record_success",
    "manifest_save",
    "manifest_set_enabled",
    "metadata_cancel_flagged",
    "metadata_count_active",
    "metadata_count_active_by_group",
    "metadata_counted_failures",
    "metadata_create",
    "metadata_fail_in_progress",
    "metadata_fail_stale_pending",
    "metadata_finish",
    "metadata_mark_junction",
    "metadata_publish_progress",
    "metadata_read_cancel_flag",
    "metadata_request_cancel",
    "metadata_start",
    "record_housekeeping_failure",
    "retention_delete_finished",
    "run_records_alias",
    "work_queue_cancel_lineage",
    "work_queue_dispatch",
    "work_queue_enqueue_direct",
    "work_queue_fail_dispatch",
    "work_queue_insert",
    "work_queue_insert_one",
    "work_queue_insert_skipping_conflicts",
    "work_queue_load_due",
    "work_queue_next_attempt",
    "work_queue_postpone",
    "work_queue_trigger",
    "worker_heartbeat",
    "worker_prune_stale",
    "worker_register",
    "worker_unregister",
    "write_isolating",
]
