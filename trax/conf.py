"""The one trax settings object: defaults < settings.TRAX < the runtime settings row.

Every name is documented in docs/settings.md. Unknown names and bad values raise
ImproperlyConfigured naming the problem; the cache is dropped on ``setting_changed`` so
``override_settings`` works in tests.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import DatabaseError
from django.dispatch import receiver

logger = logging.getLogger("trax.conf")

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _non_negative_number(value: Any) -> bool:
    """A finite number >= 0 (``inf`` and ``nan`` are no durations)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


#: The shortest polling interval: below it a loop only burns CPU and database time.
MIN_POLLING_SECONDS = 0.01
#: The most run threads one worker process may have.
MAX_WORKER_CONCURRENCY = 1024


def _polling_seconds(value: Any) -> bool:
    return _non_negative_number(value) and MIN_POLLING_SECONDS <= value <= 3600


def _cleanup_batch(value: Any) -> bool:
    return _positive_int(value) and value <= 100_000


def _concurrency(value: Any) -> bool:
    return _positive_int(value) and value <= MAX_WORKER_CONCURRENCY


#: The longest retry delay a setting may ask for (a year); longer is a mistake, not a policy.
_MAX_RETRY_SECONDS = 365 * 24 * 3600.0


def _retry_seconds(value: Any) -> bool:
    return _non_negative_number(value) and value <= _MAX_RETRY_SECONDS


def _positive_number(value: Any) -> bool:
    return _non_negative_number(value) and value > 0


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _non_negative_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _positive_int(value: Any) -> bool:
    return _non_negative_int(value) and value > 0


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _bool(value: Any) -> bool:
    return isinstance(value, bool)


def _dotted_paths(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) and "." in v for v in value)


def _string_map(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


@dataclass(frozen=True)
class _Setting:
    default: Any
    check: Callable[[Any], bool]
    expects: str


_SETTINGS: dict[str, _Setting] = {
    # Scheduler and dispatcher (DESIGN.md §4). Seconds may be fractions so tests run fast.
    "MANAGER_POLLING_INTERVAL_SECONDS": _Setting(
        5.0, _polling_seconds, "a number from 0.01 to 3600"
    ),
    "DISPATCHER_POLLING_INTERVAL_SECONDS": _Setting(
        2.0, _polling_seconds, "a number from 0.01 to 3600"
    ),
    "LEADER_LEASE_SECONDS": _Setting(None, _optional(_positive_number), "> 0 or None"),
    "MAX_ACTIVE_JOBS": _Setting(None, _optional(_positive_int), "an int > 0 or None"),
    "MAX_CONCURRENT_DISPATCH": _Setting(1, _positive_int, "an int > 0"),
    "DEFAULT_MAX_RETRIES": _Setting(3, _non_negative_int, "an int >= 0"),
    "RETRY_DELAY_SECONDS": _Setting(300.0, _retry_seconds, "a number from 0 to 31536000"),
    "RETRY_BACKOFF_MULTIPLIER": _Setting(
        2.0, lambda v: _positive_number(v) and 1 <= v <= 100, "a number from 1 to 100"
    ),
    "MAX_RETRY_DELAY_SECONDS": _Setting(3600.0, _retry_seconds, "a number from 0 to 31536000"),
    "DEFAULT_JOB_TIMEOUT_SECONDS": _Setting(1200.0, _optional(_positive_number), "> 0 or None"),
    "STALE_PENDING_TIMEOUT_SECONDS": _Setting(1200.0, _positive_number, "a number > 0"),
    "STALE_IN_PROGRESS_BACKSTOP_SECONDS": _Setting(3600.0, _positive_number, "a number > 0"),
    "DEPENDENT_PRIORITY_BOOST": _Setting(16, _non_negative_int, "an int >= 0"),
    "MAX_DISPATCH_ATTEMPTS": _Setting(5, _positive_int, "an int > 0"),
    "DISPATCH_BATCH_SIZE": _Setting(1000, _positive_int, "an int > 0"),
    "DIRECT_DISPATCH": _Setting(True, _bool, "True or False"),
    "MAX_INPUT_BYTES": _Setting(1024 * 1024, _optional(_positive_int), "an int > 0 or None"),
    "SUBMITTER": _Setting("database", _non_empty_string, "'database', 'inline' or a dotted path"),
    "SUBMITTER_ROUTES": _Setting({}, _string_map, "a dict of train name to submitter"),
    "MISFIRE_THRESHOLD_SECONDS": _Setting(60.0, _non_negative_number, "a number >= 0"),
    "METADATA_RETENTION_SECONDS": _Setting(
        30 * 24 * 3600.0, _optional(_positive_number), "> 0 or None"
    ),
    "CLEANUP_BATCH_SIZE": _Setting(1000, _cleanup_batch, "an int from 1 to 100000"),
    "DEAD_LETTER_RETENTION_SECONDS": _Setting(
        30 * 24 * 3600.0, _optional(_positive_number), "> 0 or None"
    ),
    "ROLLUP_RETENTION_SECONDS": _Setting(
        90 * 24 * 3600.0, _optional(_positive_number), "> 0 or None"
    ),
    "ROLLUP_MINUTE_RETENTION_SECONDS": _Setting(
        7 * 24 * 3600.0, _optional(_positive_number), "> 0 or None"
    ),
    # Workers.
    "WORKER_CONCURRENCY": _Setting(None, _optional(_concurrency), "an int from 1 to 1024 or None"),
    "HEARTBEAT_INTERVAL_SECONDS": _Setting(5.0, _positive_number, "a number > 0"),
    "WORKER_POLLING_INTERVAL_SECONDS": _Setting(
        1.0, _polling_seconds, "a number from 0.01 to 3600"
    ),
    "CANCEL_CHECK_INTERVAL_SECONDS": _Setting(1.0, _positive_number, "a number > 0"),
    "COMPLETION_BATCH_SIZE": _Setting(500, _positive_int, "an int > 0"),
    "LEASE_SECONDS": _Setting(30.0, _positive_number, "a number > 0"),
    "SHUTDOWN_TIMEOUT_SECONDS": _Setting(30.0, _non_negative_number, "a number >= 0"),
    # The run lifecycle (effects).
    "JUNCTION_PROGRESS": _Setting(True, _bool, "True or False"),
    "CANCELLATION_FLAG_POLLING": _Setting(True, _bool, "True or False"),
    "LOG_CAPTURE": _Setting(True, _bool, "True or False"),
    "LOG_CAPTURE_LEVEL": _Setting("INFO", lambda v: v in _LOG_LEVELS, f"one of {_LOG_LEVELS}"),
    "LOG_CAPTURE_MAX_RECORDS": _Setting(1000, _positive_int, "an int > 0"),
    "EFFECT_PROVIDERS": _Setting((), _dotted_paths, "a list of dotted paths"),
    "USER_EFFECT_PROVIDERS_ENABLED": _Setting(True, _bool, "True or False"),
    "LIFECYCLE_HOOKS": _Setting((), _dotted_paths, "a list of dotted paths"),
    "HOST_LABELS": _Setting({}, _string_map, "a dict of str to str"),
    "HOST_ENVIRONMENT": _Setting(None, _optional(_non_empty_string), "a str"),
    "DATABASE_ALIAS": _Setting(None, _optional(_non_empty_string), "a str"),
    "METRICS": _Setting(True, _bool, "True or False"),
    "TRACING": _Setting(True, _bool, "True or False"),
    "METRICS_CACHE_SECONDS": _Setting(5.0, _non_negative_number, "a number >= 0"),
    "METRICS_TOKEN_ENV": _Setting("TRAX_METRICS_TOKEN", _non_empty_string, "a str"),
    "HEALTH_MAX_QUEUE_AGE_SECONDS": _Setting(300.0, _optional(_positive_number), "> 0 or None"),
    "HEALTH_MIN_WORKERS": _Setting(1, _non_negative_int, "an int >= 0"),
    "HEALTH_REQUIRE_LEADER": _Setting(True, _bool, "True or False"),
    "HEALTH_MAX_AWAITING_DEAD_LETTERS": _Setting(
        None, _optional(_non_negative_int), "an int >= 0 or None"
    ),
}

DEFAULTS: Mapping[str, Any] = {name: s.default for name, s in _SETTINGS.items()}


def is_setting(name: str) -> bool:
    """Whether ``name`` is a trax setting."""
    return name in _SETTINGS


def setting_expectation(name: str) -> str:
    """What a valid value of ``name`` looks like ("a number > 0")."""
    return _SETTINGS[name].expects


def setting_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not valid for ``name``, or None when it is."""
    spec = _SETTINGS[name]
    return None if spec.check(value) else f"must be {spec.expects}; got {value!r}"


class TraxSettings:
    """Attribute access to the effective trax settings (``trax_settings.LEASE_SECONDS``)."""

    def __init__(self, user: Mapping[str, Any] | None = None) -> None:
        self._user = dict(user or {})
        self._validate()

    @property
    def user_values(self) -> dict[str, Any]:
        """The values given explicitly (not defaults)."""
        return dict(self._user)

    def _validate(self) -> None:
        for name, value in self._user.items():
            spec = _SETTINGS.get(name)
            if spec is None:
                close = difflib.get_close_matches(name, _SETTINGS, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ImproperlyConfigured(f"TRAX[{name!r}] is not a trax setting.{hint}")
            if not spec.check(value):
                raise ImproperlyConfigured(f"TRAX[{name!r}] must be {spec.expects}; got {value!r}.")
        beat, lease = self.HEARTBEAT_INTERVAL_SECONDS, self.LEASE_SECONDS
        if lease < 2 * beat:
            raise ImproperlyConfigured(
                f"TRAX['LEASE_SECONDS'] ({lease:g}) must be at least two heartbeats "
                f"(TRAX['HEARTBEAT_INTERVAL_SECONDS'] is {beat:g}): a claim would expire between "
                "two renewals"
            )

    def __getattr__(self, name: str) -> Any:
        if name not in _SETTINGS:
            raise AttributeError(f"{name!r} is not a trax setting")
        return self._user.get(name, _SETTINGS[name].default)

    @property
    def worker_concurrency(self) -> int:
        """WORKER_CONCURRENCY, or the CPU count when unset."""
        return self.WORKER_CONCURRENCY or os.cpu_count() or 1


_cached: TraxSettings | None = None


def get_settings() -> TraxSettings:
    """The validated settings, built once from ``settings.TRAX`` and cached."""
    global _cached
    if _cached is None:
        from django.conf import settings

        user = getattr(settings, "TRAX", {})
        if not isinstance(user, Mapping):
            raise ImproperlyConfigured("settings.TRAX must be a dict.")
        _cached = TraxSettings(user)
    return _cached


RUNTIME_REFRESH_SECONDS = 1.0
"""How long the runtime settings row is trusted before it is read again (one primary-key read of
a one-row table, at most once a second per process that asks)."""

_runtime: tuple[float, TraxSettings] | None = None


def effective_settings(*, using: str = "default") -> TraxSettings:
    """``settings.TRAX`` with the non-empty columns of the runtime settings row (staff edit it
    in the admin) on top. The row is read at most every ``RUNTIME_REFRESH_SECONDS``; the same
    object comes back until then, a new one after."""
    global _runtime
    now = time.monotonic()
    cached = _runtime
    if cached is not None and now - cached[0] < RUNTIME_REFRESH_SECONDS:
        return cached[1]
    base = get_settings()
    merged = base
    try:
        from trax.models import RuntimeSettings

        row = RuntimeSettings.objects.using(using).order_by("id").first()
    except DatabaseError:  # not migrated yet, or the database is away: settings.TRAX holds
        row = None
    if row is not None:
        overrides = {
            field.name.upper(): getattr(row, field.name)
            for field in row._meta.concrete_fields
            if field.name.upper() in _SETTINGS and getattr(row, field.name) is not None
        }
        try:
            merged = TraxSettings({**base.user_values, **overrides})
        except ImproperlyConfigured:
            logger.exception("ignoring the runtime settings row: it holds an invalid value")
    _runtime = (now, merged)
    return merged


def forget_runtime_settings() -> None:
    """Read the runtime row again on next use (after it was saved in this process)."""
    global _runtime
    _runtime = None


@receiver(setting_changed)
def _reset_on_change(*, setting: str, **kwargs: Any) -> None:
    global _cached
    # Caches built from settings elsewhere reset through receivers next to them.
    if setting == "TRAX":
        _cached = None
        forget_runtime_settings()
