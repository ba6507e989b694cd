"""The notification channels trax processes talk on."""

WORK_QUEUED = "trax_work_queued"
"""New work entries (payload empty): wakes the dispatcher."""

CAPACITY_FREED = "trax_capacity"
"""Runs finished (payload empty): wakes the dispatcher, which may dispatch more."""

JOBS_READY = "trax_jobs_ready"
"""Background jobs were written (payload empty): wakes the workers' claim loops."""

RUN_CANCEL = "trax_cancel"
"""Runs were flagged for cancellation (payload: comma-separated run ids): wakes cancel watchers."""

CHANGED = "trax_changed"
"""Something an open console page shows changed (payload: the topic — ``runs``, ``queue``,
``dead_letters``, ``schedules``, ``processes``, ``settings`` or ``bulk``): wakes live pages."""
