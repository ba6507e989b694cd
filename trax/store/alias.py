"""Which database connection run records are written through."""

from __future__ import annotations

from django.conf import settings
from django.db import connections

RUN_RECORDS_ALIAS = "trax"


def run_records_alias() -> str:
    """``TRAX['DATABASE_ALIAS']`` if set; else the ``trax`` alias on PostgreSQL; else ``default``.

    On SQLite records share the caller's connection (a rollback there removes them too): a
    second SQLite connection would wait on the caller's write lock.
    """
    from trax.conf import get_settings

    configured = get_settings().DATABASE_ALIAS
    if configured is not None:
        return str(configured)
    if RUN_RECORDS_ALIAS in settings.DATABASES and connections[RUN_RECORDS_ALIAS].vendor == (
        "postgresql"
    ):
        return RUN_RECORDS_ALIAS
    return "default"
