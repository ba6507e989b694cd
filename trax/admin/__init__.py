"""The Django admin of every trax table, one module per group of models.

Engine-owned tables (runs, logs, queues, dead letters, workers, leases, audit, bulk operations,
rollups) are
read-only:
the engine writes them through ``trax.store``, and the cleanup job deletes them. Manifests,
manifest groups and the runtime settings row are edited here, validated by ``trax.admin.forms``.
"""

from trax.admin.audit import AuditAdmin, BulkOperationAdmin
from trax.admin.processes import LeaderAdmin, WorkerAdmin
from trax.admin.queues import BackgroundJobAdmin, DeadLetterAdmin, WorkQueueAdmin
from trax.admin.rollups import RollupWatermarkAdmin, RunRollupAdmin
from trax.admin.runs import LogAdmin, MetadataAdmin
from trax.admin.runtime_settings import RuntimeSettingsAdmin
from trax.admin.scheduling import ManifestAdmin, ManifestGroupAdmin

__all__ = [
    "AuditAdmin",
    "BackgroundJobAdmin",
    "BulkOperationAdmin",
    "DeadLetterAdmin",
    "LeaderAdmin",
    "LogAdmin",
    "ManifestAdmin",
    "ManifestGroupAdmin",
    "MetadataAdmin",
    "RollupWatermarkAdmin",
    "RunRollupAdmin",
    "RuntimeSettingsAdmin",
    "WorkQueueAdmin",
    "WorkerAdmin",
]
