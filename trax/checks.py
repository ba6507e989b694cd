"""System checks for trax's configuration."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.database)
def check_run_records_alias(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when run records on PostgreSQL would share the caller's connection."""
    from trax.conf import get_settings

    configured = get_settings().DATABASE_ALIAS
    databases = settings.DATABASES
    if configured is not None:
        if configured not in databases:
            return [
                checks.Error(
                    f"TRAX['DATABASE_ALIAS'] names {configured!r}, which is not in DATABASES.",
                    id="trax.E001",
                )
            ]
        return []
    default_engine = databases.get("default", {}).get("ENGINE", "")
    if "postgresql" in default_engine and "trax" not in databases:
        return [
            checks.Warning(
                "No 'trax' database alias: run records share the default connection, so a "
                "rollback in user code erases the run's record.",
                hint="Add DATABASES['trax'] pointing at the same database as 'default'.",
                id="trax.W001",
            )
        ]
    return []
