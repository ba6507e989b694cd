"""The state machines of a run and of a work entry, as data: every guarded UPDATE in the store
makes one of these moves (a test reads the store's statements and docs/workers.md against them).
"""

from __future__ import annotations

from collections.abc import Mapping

from trax.models import TrainState, WorkQueueStatus

PENDING, IN_PROGRESS = TrainState.PENDING.value, TrainState.IN_PROGRESS.value
COMPLETED, FAILED, CANCELLED = (
    TrainState.COMPLETED.value,
    TrainState.FAILED.value,
    TrainState.CANCELLED.value,
)

#: (from, to) of ``trax_metadata.train_state`` -> who makes the move.
RUN_TRANSITIONS: Mapping[tuple[str, str], str] = {
    (PENDING, IN_PROGRESS): "a worker's claim, or the start of a run executed in place",
    (PENDING, CANCELLED): "a cancel request that reaches the run before it started",
    (PENDING, FAILED): "the dispatcher (DispatchFailed) or the manager (StalePending)",
    (IN_PROGRESS, COMPLETED): "its executor's finish",
    (IN_PROGRESS, FAILED): (
        "its executor's finish, the reaper (WorkerLost) or the manager (StaleInProgress)"
    ),
    (IN_PROGRESS, CANCELLED): "its executor's finish after a cancel (operator, timeout, parent, "
    "shutdown)",
}

#: The states an executor's finish may write (the outcome decides which).
FINISHED_STATES: tuple[str, ...] = (COMPLETED, FAILED, CANCELLED)

#: (from, to) of ``trax_work_queue.status`` -> who makes the move.
WORK_ENTRY_TRANSITIONS: Mapping[tuple[str, str], str] = {
    (WorkQueueStatus.QUEUED.value, WorkQueueStatus.DISPATCHED.value): "the dispatcher made its run",
    (WorkQueueStatus.QUEUED.value, WorkQueueStatus.CANCELLED.value): (
        "trax.cancel_run with the id trax.enqueue returned, or an operator's cancel on the "
        "console's Queue page"
    ),
}

#: States a row may be created in (no transition): a run is born pending or, executed in place,
#: started at once; a work entry is born queued or, one-off work with no cap, dispatched.
RUN_BIRTH_STATES = (PENDING,)
WORK_ENTRY_BIRTH_STATES = (WorkQueueStatus.QUEUED.value, WorkQueueStatus.DISPATCHED.value)
