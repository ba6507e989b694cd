"""Writer of leader leases (``trax_leader``): one holder per duty, compared in database time."""

from __future__ import annotations

import uuid

from django.db import connections, transaction

from trax.store.clock import database_now_sql


def _expiry_sql(vendor: str) -> str:
    if vendor == "postgresql":
        return "STATEMENT_TIMESTAMP() + make_interval(secs => %s)"
    return "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW', '+' || %s || ' seconds')"


def leader_acquire(name: str, holder: str, *, lease_seconds: float, using: str = "default") -> bool:
    """Take or renew the lease ``name`` for ``holder``: one statement that succeeds when the row
    is new, already ours, or expired (database time). No session locks, which die silently
    with their connection."""
    connection = connections[using]
    vendor = connection.vendor
    now = database_now_sql(vendor)
    expiry = _expiry_sql(vendor)
    sql = (
        "INSERT INTO trax_leader (name, holder, token, expires_at) "
        f"VALUES (%s, %s, %s, {expiry}) "
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = CASE "
        "WHEN trax_leader.holder = excluded.holder THEN trax_leader.token ELSE excluded.token END, "
        "expires_at = excluded.expires_at "
        f"WHERE trax_leader.holder = excluded.holder OR trax_leader.expires_at < {now} "
        "RETURNING holder"
    )
    token = uuid.uuid4().hex if vendor == "sqlite" else uuid.uuid4()
    seconds = str(lease_seconds) if vendor == "sqlite" else lease_seconds
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(sql, [name, holder, token, seconds])
        row = cursor.fetchone()
    return row is not None and row[0] == holder


def leader_release(name: str, holder: str, *, using: str = "default") -> bool:
    """Give the lease up at once (clean shutdown) so another process need not wait it out."""
    with connections[using].cursor() as cursor:
        cursor.execute("DELETE FROM trax_leader WHERE name = %s AND holder = %s", [name, holder])
        return cursor.rowcount == 1
