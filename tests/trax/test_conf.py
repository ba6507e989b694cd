"""The settings object: defaults, validation, and override in tests."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from trax.conf import DEFAULTS, TraxSettings, get_settings


def test_defaults_match_the_design() -> None:
    settings = TraxSettings({})
    assert settings.MANAGER_POLLING_INTERVAL_SECONDS == 5
    assert settings.DISPATCHER_POLLING_INTERVAL_SECONDS == 2
    assert settings.MAX_ACTIVE_JOBS is None
    assert settings.DEFAULT_MAX_RETRIES == 3
    assert settings.RETRY_DELAY_SECONDS == 300
    assert settings.MAX_RETRY_DELAY_SECONDS == 3600
    assert settings.DEFAULT_JOB_TIMEOUT_SECONDS == 1200
    assert settings.LEASE_SECONDS == 30
    assert settings.SHUTDOWN_TIMEOUT_SECONDS == 30
    assert settings.METADATA_RETENTION_SECONDS == 30 * 24 * 3600
    assert settings.CLEANUP_BATCH_SIZE == 1000
    assert settings.DEAD_LETTER_RETENTION_SECONDS == 30 * 24 * 3600


def test_an_unknown_name_is_refused_with_a_suggestion() -> None:
    expected = r"LEASE_SECOND'\] is not a trax setting\. Did you mean 'LEASE_SECONDS'"
    with pytest.raises(ImproperlyConfigured, match=expected):
        TraxSettings({"LEASE_SECOND": 3})


@pytest.mark.parametrize(
    "name, value",
    [
        ("LEASE_SECONDS", 0),
        ("LEASE_SECONDS", "30"),
        ("MAX_ACTIVE_JOBS", -1),
        ("MAX_ACTIVE_JOBS", True),
        ("LOG_CAPTURE_LEVEL", "LOUD"),
        ("JUNCTION_PROGRESS", "yes"),
        ("EFFECT_PROVIDERS", ["not_dotted"]),
        ("HOST_LABELS", {"team": 1}),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting(name: str, value: object) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"TRAX\\['{name}'\\] must be"):
        TraxSettings({name: value})


def test_fractions_of_a_second_are_allowed_for_fast_tests() -> None:
    assert TraxSettings({"HEARTBEAT_INTERVAL_SECONDS": 0.05}).HEARTBEAT_INTERVAL_SECONDS == 0.05


def test_every_default_passes_its_own_validation() -> None:
    TraxSettings(dict(DEFAULTS))


def test_override_settings_is_seen_at_once(settings: Any) -> None:
    settings.TRAX = {"LEASE_SECONDS": 12}
    assert get_settings().LEASE_SECONDS == 12
    settings.TRAX = {}
    assert get_settings().LEASE_SECONDS == 30


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HEARTBEAT_INTERVAL_SECONDS", float("inf")),
        ("RETRY_DELAY_SECONDS", float("nan")),
        ("RETRY_DELAY_SECONDS", 1e300),
        ("MAX_RETRY_DELAY_SECONDS", 1e300),
        ("RETRY_BACKOFF_MULTIPLIER", 1e6),
        ("RETRY_BACKOFF_MULTIPLIER", 0.5),
    ],
)
def test_unbounded_numbers_are_refused_with_the_allowed_range(
    settings: Any, name: str, value: float
) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from trax.conf import get_settings

    settings.TRAX = {name: value}
    with pytest.raises(ImproperlyConfigured, match=name):
        get_settings()


@pytest.mark.parametrize(
    ("trax_settings", "words"),
    [
        ({"HEARTBEAT_INTERVAL_SECONDS": 20, "LEASE_SECONDS": 30}, "at least two heartbeats"),
        ({"WORKER_POLLING_INTERVAL_SECONDS": 1e-9}, "from 0.01 to 3600"),
        ({"WORKER_CONCURRENCY": 100_000}, "from 1 to 1024"),
        ({"CLEANUP_BATCH_SIZE": 0}, "from 1 to 100000"),
        ({"CLEANUP_BATCH_SIZE": 100_001}, "from 1 to 100000"),
        ({"METADATA_RETENTION_SECONDS": -1}, "> 0 or None"),
    ],
)
def test_settings_that_would_break_a_process_are_refused(
    settings: Any, trax_settings: dict[str, Any], words: str
) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.TRAX = trax_settings
    with pytest.raises(ImproperlyConfigured, match=words):
        get_settings()
