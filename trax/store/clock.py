"""The database's clock. Run timestamps, leases and the manager's ``now`` all come from it, so
hosts with skewed clocks still agree."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connections
from django.utils.dateparse import parse_datetime

_NOW_SQL = {
    # The statement's time, not the transaction's (CURRENT_TIMESTAMP), as Django's Now() does.
    "postgresql": "STATEMENT_TIMESTAMP()",
    "sqlite": "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW')",
}


def database_now_sql(vendor: str) -> str:
    """SQL for the current time on ``vendor`` (``%`` escaped for parameterised queries)."""
    return _NOW_SQL[vendor]


def database_later_sql(vendor: str) -> str:
    """SQL for the database's time plus a number of seconds given as the one parameter (a
    number on PostgreSQL, a string on SQLite: see ``seconds_parameter``)."""
    if vendor == "postgresql":
        return "STATEMENT_TIMESTAMP() + make_interval(secs => %s)"
    return "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW', '+' || %s || ' seconds')"


def seconds_parameter(vendor: str, seconds: float) -> float | str:
    """``seconds`` as ``database_later_sql`` takes it on ``vendor``."""
    return seconds if vendor == "postgresql" else str(seconds)


def database_now(using: str = "default") -> datetime:
    """The database's current time, timezone-aware UTC."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {database_now_sql(connection.vendor)}".replace("%%", "%"))
        value = cursor.fetchone()[0]
    if isinstance(value, str):  # SQLite returns text
        parsed = parse_datetime(value)
        assert parsed is not None, value
        value = parsed
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
