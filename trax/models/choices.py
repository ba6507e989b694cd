"""The enumerations stored in trax tables (lower-case values, DESIGN.md §3)."""

from django.db import models


class TrainState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_STATES = (TrainState.COMPLETED, TrainState.FAILED, TrainState.CANCELLED)
ACTIVE_STATES = (TrainState.PENDING, TrainState.IN_PROGRESS)


class ScheduleType(models.TextChoices):
    MANUAL = "manual", "Manual"
    INTERVAL = "interval", "Interval"
    CRON = "cron", "Cron"
    ONCE = "once", "Once"
    DEPENDENT = "dependent", "Dependent"
    DORMANT_DEPENDENT = "dormant_dependent", "Dormant dependent"


class WorkQueueStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    DISPATCHED = "dispatched", "Dispatched"
    CANCELLED = "cancelled", "Cancelled"


class DeadLetterStatus(models.TextChoices):
    AWAITING_INTERVENTION = "awaiting_intervention", "Awaiting intervention"
    RETRIED = "retried", "Retried"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class MisfirePolicy(models.TextChoices):
    FIRE_ONCE_NOW = "fire_once_now", "Fire once now"
    DO_NOTHING = "do_nothing", "Do nothing"


class CancelReason(models.TextChoices):
    OPERATOR = "operator", "Operator"
    TIMEOUT = "timeout", "Timeout"
    SHUTDOWN = "shutdown", "Shutdown"
    PARENT = "parent", "Parent"


class FailureKind(models.TextChoices):
    """Failures the engine itself records in ``failure_exception`` (a train's own failures store
    their exception's class name). Retries and dead letters decide on these."""

    DISPATCH_FAILED = "DispatchFailed", "Dispatch failed"  # a submitter could not take the run
    WORKER_LOST = "WorkerLost", "Worker lost"  # its claim's lease expired while it ran
    UNKNOWN_TRAIN = "UnknownTrain", "Unknown train"  # no process has the train: never retried
    STALE_PENDING = "StalePending", "Stale pending"  # pending with no job or claim for too long
    STALE_IN_PROGRESS = "StaleInProgress", "Stale in progress"  # in progress with no live claim
    UNSTORABLE_OUTCOME = "UnstorableOutcome", "Unstorable outcome"  # the database refused it


class WorkerKind(models.TextChoices):
    SCHEDULER = "scheduler", "Scheduler"
    WORKER = "worker", "Worker"
    WEB = "web", "Web"


PRIORITY_MIN = 0
PRIORITY_MAX = 31
