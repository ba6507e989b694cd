"""Writer of leader leases (``trax_leader``): one holder per duty, compared in database time."""

from __future__ import annotations

import uuid

from django.db import connections, transaction

from trax.store.clock import database_later_sql, database_now_sql, seconds_parameter


def leader_acquire(
    name: str,
    holder: str,
    *,
    lease_seconds: float,
    token: uuid.UUID | None = None,
    using: str = "default",
) -> bool:
    """Take or renew the lease ``name`` for ``holder``: one statement that succeeds when the row
    is new, expired (database time), or ours — same holder and same ``token``, so a second
    process started under the same name cannot share the lease. No session locks, which die
    silently with their connection."""
    connection = connections[using]
    vendor = connection.vendor
    now = database_now_sql(vendor)
    expiry = database_later_sql(vendor)
    sql = (
        "INSERT INTO trax_leader (name, holder, token, expires_at) "
        f"VALUES (%s, %s, %s, {expiry}) "
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token, "
        "expires_at = excluded.expires_at "
        "WHERE (trax_leader.holder = excluded.holder AND trax_leader.token = excluded.token) "
        f"OR trax_leader.expires_at < {now} "
        "RETURNING holder"
    )
    mine = token or uuid.uuid5(uuid.NAMESPACE_URL, holder)
    token_value = mine.hex if vendor == "sqlite" else mine
    seconds = seconds_parameter(vendor, lease_seconds)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(sql, [name, holder, token_value, seconds])
        row = cursor.fetchone()
    return row is not None and row[0] == holder


def leader_release(name: str, holder: str, *, using: str = "default") -> bool:
    """Give the lease up at once (clean shutdown) so another process need not wait it out."""
    with connections[using].cursor() as cursor:
        cursor.execute("DELETE FROM trax_leader WHERE name = %s AND holder = %s", [name, holder])
        return cursor.rowcount == 1
