"""The fields every log record of the engine carries, for structured logging: the run's id,
train and attempt, and this process's worker id, as record attributes (``extra``) named
``trax_run_id``, ``trax_train``, ``trax_attempt`` and ``trax_worker_id`` (None where they do
not apply). Add ``RunFields`` to a handler to give them to records of your own code too."""

from __future__ import annotations

import logging
from typing import Any

from trax.core.context import RunContext, current_run_or_none

RUN_ID = "trax_run_id"
TRAIN = "trax_train"
ATTEMPT = "trax_attempt"
WORKER_ID = "trax_worker_id"
FIELDS = (RUN_ID, TRAIN, ATTEMPT, WORKER_ID)

#: The loggers the engine writes to (a guard test checks every one in the package is here).
ENGINE_LOGGERS = (
    "trax.conf",
    "trax.dispatch",
    "trax.effects",
    "trax.events",
    "trax.hooks",
    "trax.housekeeping",
    "trax.manager",
    "trax.runs",
    "trax.scheduling",
    "trax.services",
    "trax.workers",
)

_worker_id: str | None = None


def set_worker_id(worker_id: str | None) -> None:
    """This process's worker id, stamped on records that do not name one."""
    global _worker_id
    _worker_id = worker_id


def run_fields(
    run_id: int | None, train: str | None = None, attempt: int | None = None
) -> dict[str, Any]:
    """``extra`` for a record about one run, written where no run context is current."""
    return {RUN_ID: run_id, TRAIN: train or None, ATTEMPT: attempt}


def context_fields(run: RunContext) -> dict[str, Any]:
    """``extra`` for a record about the run ``run``."""
    return run_fields(run.run_id, run.train_name, run.attempt)


class RunFields(logging.Filter):
    """Fills the four fields a record lacks: from the run executing on this thread (or task)
    and this process's worker id; None otherwise. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        missing = [name for name in FIELDS if not hasattr(record, name)]
        if missing:
            run = current_run_or_none()
            known = context_fields(run) if run is not None else {}
            known[WORKER_ID] = _worker_id
            for name in missing:
                setattr(record, name, known.get(name))
        return True


def install() -> None:
    """Give the engine's loggers the filter (once; loggers are per-name singletons, so their
    modules may be imported later)."""
    for name in ENGINE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RunFields) for existing in logger.filters):
            logger.addFilter(RunFields())
