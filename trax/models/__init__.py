"""The trax tables, one module each (DESIGN.md §3)."""

from trax.models.audit import Audit
from trax.models.background_job import BackgroundJob
from trax.models.bulk_operation import BulkOperation
from trax.models.choices import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    CancelReason,
    DeadLetterStatus,
    FailureKind,
    MisfirePolicy,
    ScheduleType,
    TrainState,
    WorkerKind,
    WorkQueueStatus,
)
from trax.models.dead_letter import DeadLetter
from trax.models.leader import Leader
from trax.models.log import Log
from trax.models.manifest import Manifest
from trax.models.manifest_group import ManifestGroup
from trax.models.metadata import Metadata
from trax.models.rollup import RollupWatermark, RunRollup
from trax.models.runtime_settings import RuntimeSettings
from trax.models.work_queue import WorkQueue
from trax.models.worker import Worker

__all__ = [
    "ACTIVE_STATES",
    "TERMINAL_STATES",
    "Audit",
    "BackgroundJob",
    "BulkOperation",
    "CancelReason",
    "DeadLetter",
    "DeadLetterStatus",
    "FailureKind",
    "Leader",
    "Log",
    "Manifest",
    "ManifestGroup",
    "Metadata",
    "MisfirePolicy",
    "RollupWatermark",
    "RunRollup",
    "RuntimeSettings",
    "ScheduleType",
    "TrainState",
    "WorkQueue",
    "WorkQueueStatus",
    "Worker",
    "WorkerKind",
]
