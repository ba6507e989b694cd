"""Log capture: records emitted while a run executes land in ``trax_log``, linked to the run.

A handler on the root logger appends to the buffer of the run active in the current context;
the lifecycle flushes the buffer in one insert at each junction boundary and hands the rest to
the run's finisher at the end, so nothing is written from inside ``emit`` (which would recurse
into the database's own logging). In a worker the heartbeat writes them instead of the run's
thread, which then needs no connection of its own.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from trax.models import Log
from trax.store import log_write_batch

_IGNORED_LOGGER_PREFIXES = ("django.db.backends",)

_active_buffer: contextvars.ContextVar[RunLogBuffer | None] = contextvars.ContextVar(
    "trax_log_buffer", default=None
)


class RunLogBuffer:
    """Records of one run waiting to be written; the oldest are dropped past ``max_records``."""

    def __init__(self, metadata_id: int, *, level: int, max_records: int) -> None:
        self.metadata_id = metadata_id
        self.level = level
        self._records: deque[Log] = deque(maxlen=max_records)
        self._lock = threading.Lock()
        self.dropped = 0

    def add(self, record: logging.LogRecord) -> None:
        """Keep ``record`` if it meets the level threshold."""
        if record.levelno < self.level or record.name.startswith(_IGNORED_LOGGER_PREFIXES):
            return
        try:
            message = record.getMessage()
        except Exception as error:  # a bad format string must not break the run
            message = f"{record.msg!r} (unformattable: {error})"
        exception = ""
        if record.exc_info:
            exception = logging.Formatter().formatException(record.exc_info)
        message, exception = message.replace("\x00", "\\x00"), exception.replace("\x00", "\\x00")
        row = Log(
            metadata_id=self.metadata_id,
            level=record.levelname,
            logger=record.name[:255],
            message=message,
            exception=exception,
            created_at=datetime.fromtimestamp(record.created, tz=UTC),
        )
        with self._lock:
            if len(self._records) == self._records.maxlen:
                self.dropped += 1
            self._records.append(row)

    def drain(self) -> list[Log]:
        """Take what is buffered (another thread may write it: a worker's heartbeat)."""
        with self._lock:
            rows = list(self._records)
            self._records.clear()
        return rows

    def flush(self, *, using: str | None = None) -> int:
        """Write what is buffered in one insert; returns how many rows."""
        return log_write_batch(self.drain(), using=using)


class _RunLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        buffer = _active_buffer.get()
        if buffer is not None:
            buffer.add(record)


_handler = _RunLogHandler()


def install_log_capture() -> None:
    """Attach the capture handler to the root logger (idempotent; inert outside runs)."""
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)


@contextmanager
def capturing(buffer: RunLogBuffer | None) -> Iterator[None]:
    """Route records emitted in this context to ``buffer`` (None: capture nothing)."""
    reset = _active_buffer.set(buffer)
    try:
        yield
    finally:
        _active_buffer.reset(reset)
