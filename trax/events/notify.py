"""Sending notifications inside the writer's transaction (delivered when it commits)."""

from __future__ import annotations

from django.db import connections

from trax.events.channels import CHANGED


def notify(channel: str, payload: str = "", *, using: str = "default") -> None:
    """``pg_notify`` on PostgreSQL, delivered only if the surrounding transaction commits;
    nothing on SQLite, whose processes poll."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])


def notify_changed(topic: str, *, using: str = "default") -> None:
    """Tell open console pages that ``topic`` changed (on commit; nothing on SQLite)."""
    notify(CHANGED, topic, using=using)
