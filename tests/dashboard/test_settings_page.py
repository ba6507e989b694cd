"""The Settings page and the runtime settings' one writer: values in force with their default
and source, a change checked as settings.TRAX is (each bad value named, nothing written),
refused without ``trax.change_runtime_settings``, one audit row and a live notice per save."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.dashboard.users import operator
from trax.conf import effective_settings, forget_runtime_settings
from trax.models import Audit, RuntimeSettings
from trax.store import UnknownRuntimeSetting, runtime_settings_states, runtime_settings_update

pytestmark = pytest.mark.django_db

URL = reverse("dashboard:settings")
CHANGER = ("view_console", "change_runtime_settings")


@pytest.fixture
def changer(client: Client) -> Client:
    client.force_login(operator("tuner", permissions=CHANGER))
    return client


def state(name: str) -> Any:
    states, _ = runtime_settings_states(using="default")
    return next(s for s in states if s.name == name)


def form_of(**values: Any) -> dict[str, Any]:
    """Every field of the form, blank unless given (blank = back to settings.TRAX)."""
    fields = {name: "" for name in _columns()}
    fields["junction_progress"] = fields["log_capture"] = "unknown"
    fields.update(values)
    return fields


def _columns() -> tuple[str, ...]:
    from trax.store.runtime_settings import COLUMNS

    return COLUMNS


# ── the store ────────────────────────────────────────────────────────────────────────────────


def test_an_update_writes_the_row_one_audit_row_and_applies_at_once(settings: Any) -> None:
    changed = runtime_settings_update(
        {"max_active_jobs": 7, "retry_delay_seconds": 30.0}, actor="ada", using="default"
    )

    assert changed == {"max_active_jobs": (None, 7), "retry_delay_seconds": (None, 30.0)}
    row = RuntimeSettings.objects.get()
    assert (row.max_active_jobs, row.retry_delay_seconds, row.updated_by) == (7, 30.0, "ada")
    (audit,) = Audit.objects.filter(action="settings.change")
    assert audit.actor == "ada"
    assert audit.detail == {"max_active_jobs": [None, 7], "retry_delay_seconds": [None, 30.0]}
    assert effective_settings().MAX_ACTIVE_JOBS == 7  # this process: at once


def test_an_update_that_changes_nothing_writes_nothing() -> None:
    runtime_settings_update({"max_active_jobs": 7}, actor="ada", using="default")
    assert runtime_settings_update({"max_active_jobs": 7}, actor="bo", using="default") == {}
    assert Audit.objects.filter(action="settings.change").count() == 1
    assert RuntimeSettings.objects.get().updated_by == "ada"


def test_none_gives_the_value_back_to_settings_trax(settings: Any) -> None:
    settings.TRAX = {**settings.TRAX, "MAX_ACTIVE_JOBS": 3}
    runtime_settings_update({"max_active_jobs": 7}, actor="ada", using="default")
    assert state("MAX_ACTIVE_JOBS").source == "runtime"

    runtime_settings_update({"max_active_jobs": None}, actor="ada", using="default")

    assert (state("MAX_ACTIVE_JOBS").value, state("MAX_ACTIVE_JOBS").source) == (
        3,
        "settings.TRAX",
    )
    forget_runtime_settings()
    assert effective_settings().MAX_ACTIVE_JOBS == 3


def test_an_unknown_name_is_refused_and_nothing_written() -> None:
    with pytest.raises(UnknownRuntimeSetting, match="not runtime settings: lease_seconds"):
        runtime_settings_update(
            {"lease_seconds": 1, "max_active_jobs": 2}, actor="ada", using="default"
        )
    assert not RuntimeSettings.objects.exists()
    assert not Audit.objects.exists()


def test_each_setting_says_its_source_and_default(settings: Any) -> None:
    settings.TRAX = {**settings.TRAX, "RETRY_DELAY_SECONDS": 60}
    runtime_settings_update({"default_max_retries": 9}, actor="ada", using="default")

    assert (state("DEFAULT_MAX_RETRIES").value, state("DEFAULT_MAX_RETRIES").source) == (
        9,
        "runtime",
    )
    assert state("DEFAULT_MAX_RETRIES").default == 3
    assert (state("RETRY_DELAY_SECONDS").value, state("RETRY_DELAY_SECONDS").source) == (
        60,
        "settings.TRAX",
    )
    assert state("LOG_CAPTURE").source == "default"


# ── the page ─────────────────────────────────────────────────────────────────────────────────


def test_the_page_shows_every_runtime_setting(changer: Client) -> None:
    runtime_settings_update({"max_active_jobs": 7}, actor="ada", using="default")
    html = changer.get(URL).content.decode()
    for name in _columns():
        assert f'data-setting="{name.upper()}"' in html
    assert "runtime" in html and "by ada" in html
    assert "?q=action:settings.change" in html


def test_a_change_is_saved_audited_and_reported(changer: Client) -> None:
    response = changer.post(URL, form_of(max_active_jobs="12", log_capture="false"), follow=True)

    assert response.redirect_chain == [(URL, 302)]
    assert "Saved MAX_ACTIVE_JOBS, LOG_CAPTURE" in response.content.decode()
    row = RuntimeSettings.objects.get()
    assert (row.max_active_jobs, row.log_capture, row.updated_by) == (12, False, "tuner")
    assert Audit.objects.filter(action="settings.change", actor="tuner").count() == 1


@pytest.mark.parametrize(
    ("values", "field", "problem"),
    [
        ({"manager_polling_interval_seconds": "0"}, "manager_polling_interval_seconds", "0.01"),
        ({"manager_polling_interval_seconds": "soon"}, "manager_polling_interval_seconds", ""),
        ({"max_active_jobs": "-1"}, "max_active_jobs", ""),
        ({"retry_backoff_multiplier": "1000"}, "retry_backoff_multiplier", ""),
    ],
)
def test_a_bad_value_is_named_and_nothing_is_written(
    changer: Client, values: dict[str, str], field: str, problem: str
) -> None:
    response = changer.post(URL, form_of(**values))

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing saved." in html
    assert problem in html
    assert 'class="field invalid"' in html
    assert not RuntimeSettings.objects.exists()
    assert not Audit.objects.exists()


def test_a_viewer_sees_the_page_but_may_not_change_it(client: Client) -> None:
    client.force_login(operator("viewer"))
    assert client.get(URL).status_code == 200

    response = client.post(URL, form_of(max_active_jobs="12"))

    assert response.status_code == 403
    assert "trax.change_runtime_settings" in response.content.decode()
    assert not RuntimeSettings.objects.exists()


def test_what_a_user_typed_is_escaped(changer: Client) -> None:
    response = changer.post(URL, form_of(max_active_jobs="<script>x</script>"))
    assert response.status_code == 400
    assert "<script>x</script>" not in response.content.decode()


def test_the_live_part_is_its_own_fragment(changer: Client) -> None:
    html = changer.get(URL, headers={"X-Trax-Fragment": "1"}).content.decode()
    assert "Runtime settings" in html
    assert "<form" not in html
