"""The only writers of queue and run state (DESIGN.md §2), named entity_verb."""

from trax.store.alias import run_records_alias
from trax.store.audit import audit_record
from trax.store.logs import log_write_batch
from trax.store.metadata import (
    CancelRequestResult,
    CancelSignal,
    HostStamp,
    RunOutcome,
    metadata_create,
    metadata_finish,
    metadata_mark_junction,
    metadata_read_cancel_flag,
    metadata_request_cancel,
    metadata_start,
)

__all__ = [
    "CancelRequestResult",
    "CancelSignal",
    "HostStamp",
    "RunOutcome",
    "audit_record",
    "log_write_batch",
    "metadata_create",
    "metadata_finish",
    "metadata_mark_junction",
    "metadata_read_cancel_flag",
    "metadata_request_cancel",
    "metadata_start",
    "run_records_alias",
]
