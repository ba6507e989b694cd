"""Outliving the database server: a restart or failover kills every open connection, and a
Django connection that died stays dead (each later query fails) until it is closed. Long-lived
threads therefore drop their connections after an error and go on with fresh ones."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import Error, connections

T = TypeVar("T")

#: How long a one-off write (unregister, lease release) keeps retrying an unreachable server.
RETRY_WITHIN_SECONDS = 5.0


def drop_connections() -> None:
    """Close this thread's connections (every alias); the next query opens a fresh one. Used
    after an error, when the connection may be broken (a healthy one costs a reconnect)."""
    for connection in connections.all(initialized_only=True):
        # Closing a connection the server already dropped may raise; it is gone either way.
        with contextlib.suppress(Error):
            connection.close()


def on_fresh_connection(operation: Callable[[], T], *, within: float = RETRY_WITHIN_SECONDS) -> T:
    """``operation()``, retried on fresh connections after a database error until ``within``
    seconds have passed; then the last error is raised. For idempotent writes made on a
    connection that may have sat idle through a restart (shutdown paths)."""
    deadline = time.monotonic() + within
    delay = 0.1
    while True:
        try:
            return operation()
        except Error:
            drop_connections()
            if time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
