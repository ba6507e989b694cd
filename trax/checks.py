"""System checks for trax's configuration."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string


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


@checks.register()
def check_dotted_paths(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every class named in settings by a dotted path imports and is the right kind: a bad one
    stops ``manage.py check`` and every trax process at start, not the first run or cycle."""
    from trax.conf import get_settings
    from trax.dispatch.submitters import load_submitter
    from trax.effects.hooks import LifecycleHook
    from trax.effects.providers import EffectProvider

    conf = get_settings()
    errors: list[checks.CheckMessage] = []

    def refuse(where: str, value: str, problem: str) -> None:
        errors.append(checks.Error(f"{where}: {value!r} {problem}", id="trax.E002"))

    submitters = [("TRAX['SUBMITTER']", conf.SUBMITTER)] + [
        (f"TRAX['SUBMITTER_ROUTES'][{train!r}]", ref)
        for train, ref in conf.SUBMITTER_ROUTES.items()
    ]
    for setting, reference in submitters:
        try:
            load_submitter(reference)
        except Exception as error:  # any failure to import or build it is the finding
            refuse(setting, reference, f"is not a usable job submitter: {error}")
    for setting, base in (("EFFECT_PROVIDERS", EffectProvider), ("LIFECYCLE_HOOKS", LifecycleHook)):
        for path in getattr(conf, setting):
            try:
                cls = import_string(path)
            except ImportError as error:
                refuse(f"TRAX[{setting!r}]", path, f"does not import: {error}")
                continue
            if not (isinstance(cls, type) and issubclass(cls, base)):
                kind = f"{base.__module__}.{base.__name__}"
                refuse(f"TRAX[{setting!r}]", path, f"is not a subclass of {kind}")
    return errors


#: Connections of the run-records alias a worker's long-lived threads hold for good: the claim
#: loop, the heartbeat, the batch completer and the cancel watcher (its LISTEN session is a
#: connection of its own, outside any pool). A scheduler's loops hold fewer.
HELD_BY_A_WORKER = 4


@checks.register(checks.Tags.database)
def check_run_records_pool(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A pool on the run-records alias must outgrow what a worker's threads hold for good, or
    its runs wait for a connection that never comes back."""
    from trax.store import run_records_alias

    alias = run_records_alias()
    pool = settings.DATABASES.get(alias, {}).get("OPTIONS", {}).get("pool")
    if not pool:
        return []
    max_size = pool.get("max_size") or pool.get("min_size", 4) if isinstance(pool, dict) else 4
    if max_size > HELD_BY_A_WORKER:
        return []
    return [
        checks.Error(
            f"DATABASES[{alias!r}] (trax's run records) uses a connection pool of at most "
            f"{max_size} connections, and a worker's claim loop, heartbeat, completer and cancel "
            f"watcher hold {HELD_BY_A_WORKER} of them for good: its runs would wait for ever.",
            hint=f"Raise the pool's max_size above {HELD_BY_A_WORKER}, or give trax an alias "
            "without a pool (DATABASES['trax'], docs/workers.md 'Connections').",
            id="trax.E003",
        )
    ]
