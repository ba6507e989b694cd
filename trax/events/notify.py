"""Sending notifications inside the writer's transaction (delivered when it commits)."""

from __future__ import annotations

from django.db import connections


def notify(channel: str, payload: str = "", *, using: str = "default") -> None:
    """``pg_notify`` on PostgreSQL, delivered only if the surrounding transaction commits;
    nothing on SQLite, whose processes poll."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])
