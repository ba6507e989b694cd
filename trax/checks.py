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
