"""The runtime settings row: staff changes apply without a restart."""

from __future__ import annotations

from typing import Any

import pytest

import trax
from tests.trax.effects.trains import Numbers, SumDoubled
from trax.conf import effective_settings, forget_runtime_settings
from trax.effects.from_settings import default_service
from trax.manager.config import ManagerConfig
from trax.models import Log, RuntimeSettings

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh() -> Any:
    forget_runtime_settings()
    yield
    forget_runtime_settings()


def test_without_a_row_the_settings_are_settings_trax() -> None:
    assert effective_settings().DEFAULT_MAX_RETRIES == 3


def test_a_non_empty_column_overrides_settings_trax(settings: Any) -> None:
    settings.TRAX = {**settings.TRAX, "DEFAULT_MAX_RETRIES": 5, "RETRY_DELAY_SECONDS": 60}
    RuntimeSettings.objects.create(default_max_retries=7)
    forget_runtime_settings()

    conf = effective_settings()

    assert conf.DEFAULT_MAX_RETRIES == 7  # the row wins
    assert conf.RETRY_DELAY_SECONDS == 60  # empty column: settings.TRAX holds
    assert ManagerConfig.from_settings(conf).retry_delay_seconds == 60


def test_the_row_is_read_again_only_after_the_refresh_interval() -> None:
    first = effective_settings()
    RuntimeSettings.objects.create(default_max_retries=9)

    assert effective_settings() is first  # cached
    forget_runtime_settings()
    assert effective_settings().DEFAULT_MAX_RETRIES == 9


def test_an_invalid_row_is_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    RuntimeSettings.objects.create(retry_backoff_multiplier=0.5)
    assert effective_settings().RETRY_BACKOFF_MULTIPLIER == 2.0
    assert "ignoring the runtime settings row" in caplog.text


def test_switching_log_capture_off_in_the_row_applies_to_the_next_run() -> None:
    trax.run(SumDoubled, Numbers([1]))
    assert Log.objects.count() == 1
    RuntimeSettings.objects.create(log_capture=False)
    forget_runtime_settings()

    assert not default_service().options.log_capture
    trax.run(SumDoubled, Numbers([1]))
    assert Log.objects.count() == 1
