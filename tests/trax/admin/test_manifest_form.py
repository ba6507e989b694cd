"""Manifest, group and runtime-settings forms: each bad input is a field error and saves
nothing; good input saves and leaves an audit row."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from trax.admin.forms import ManifestForm, ManifestGroupForm, RuntimeSettingsForm
from trax.models import Audit, Manifest, ManifestGroup, RuntimeSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def group() -> ManifestGroup:
    return ManifestGroup.objects.create(name="default")


def manifest_data(group: ManifestGroup, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "external_id": "greet-ada",
        "train_name": "demo.greet",
        "group": group.pk,
        "input": '{"name": "Ada"}',
        "schedule_type": "interval",
        "interval_seconds": 60,
        "cron_expression": "",
        "timezone": "UTC",
        "run_at": "",
        "depends_on": "",
        "misfire_policy": "fire_once_now",
        "priority": 0,
        "is_enabled": "on",
        "max_retries": 3,
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def errors_of(form: Any) -> dict[str, list[str]]:
    assert not form.is_valid()
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


def test_a_good_manifest_is_valid(group: ManifestGroup) -> None:
    form = ManifestForm(data=manifest_data(group))
    assert form.is_valid(), form.errors
    assert form.save().input == {"name": "Ada"}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"priority": 32}, "priority", "between 0 and 31"),
        ({"priority": -1}, "priority", "greater than or equal to 0"),
        ({"interval_seconds": None}, "interval_seconds", "above 0"),
        ({"interval_seconds": 0}, "interval_seconds", "above 0"),
        ({"schedule_type": "cron"}, "cron_expression", "needs a cron expression"),
        ({"schedule_type": "once"}, "run_at", "needs a time"),
        ({"schedule_type": "dependent"}, "depends_on", "needs the manifest"),
        ({"schedule_type": "dormant_dependent"}, "depends_on", "needs the manifest"),
        ({"train_name": "demo.nope"}, "train_name", "demo.greet"),
        ({"input": '{"nom": "Ada"}'}, "input", "name"),
        ({"input": "null"}, "input", "does not match"),
        ({"input": "{not json"}, "input", "JSON"),
        ({"timezone": "Mars/Olympus"}, "timezone", "time zone"),
    ],
)
def test_bad_input_is_an_error_on_its_field(
    group: ManifestGroup, changes: dict[str, Any], field: str, words: str
) -> None:
    errors = errors_of(ManifestForm(data=manifest_data(group, **changes)))
    assert field in errors, errors
    assert any(words in message for message in errors[field]), errors[field]
    assert Manifest.objects.count() == 0


def test_an_unknown_train_lists_the_registered_ones(group: ManifestGroup) -> None:
    errors = errors_of(ManifestForm(data=manifest_data(group, train_name="demo.nope")))
    message = errors["train_name"][0]
    assert "'demo.nope'" in message
    assert "demo.greet" in message and "demo.always_fails" in message
    assert "input" not in errors  # the input cannot be checked against an unknown train


def test_a_dependency_cycle_is_refused(group: ManifestGroup) -> None:
    first = Manifest.objects.create(external_id="first", train_name="demo.greet", group=group)
    second = Manifest.objects.create(
        external_id="second",
        train_name="demo.greet",
        group=group,
        schedule_type="dependent",
        depends_on=first,
    )
    data = manifest_data(
        group, external_id="first", schedule_type="dependent", depends_on=second.pk
    )
    errors = errors_of(ManifestForm(data=data, instance=first))
    assert "cycle" in errors["depends_on"][0]
    first.refresh_from_db()
    assert first.depends_on_id is None


def test_a_manifest_cannot_depend_on_itself(group: ManifestGroup) -> None:
    manifest = Manifest.objects.create(external_id="self", train_name="demo.greet", group=group)
    data = manifest_data(
        group, external_id="self", schedule_type="dependent", depends_on=manifest.pk
    )
    assert "depends_on" in errors_of(ManifestForm(data=data, instance=manifest))


def test_a_dependent_manifest_with_a_parent_is_valid(group: ManifestGroup) -> None:
    parent = Manifest.objects.create(external_id="parent", train_name="demo.greet", group=group)
    form = ManifestForm(data=manifest_data(group, schedule_type="dependent", depends_on=parent.pk))
    assert form.is_valid(), form.errors


def test_the_admin_add_page_refuses_bad_input_and_saves_nothing(
    admin_client: Client, group: ManifestGroup
) -> None:
    response = admin_client.post(
        reverse("admin:trax_manifest_add"), manifest_data(group, input='{"nom": 1}')
    )
    assert response.status_code == 200
    assert "input" in response.context["adminform"].form.errors
    assert Manifest.objects.count() == 0
    assert Audit.objects.count() == 0


def test_the_admin_add_page_saves_good_input_with_an_audit_row(
    admin_client: Client, group: ManifestGroup
) -> None:
    response = admin_client.post(reverse("admin:trax_manifest_add"), manifest_data(group))
    assert response.status_code == 302
    manifest = Manifest.objects.get()
    assert manifest.input == {"name": "Ada"}
    assert manifest.is_enabled_overridden is False
    audit = Audit.objects.get()
    assert (audit.actor, audit.action, audit.target) == (
        "admin",
        "manifest.create",
        f"manifest:{manifest.pk}",
    )


def test_switching_a_manifest_off_in_the_admin_marks_it_overridden(
    admin_client: Client, group: ManifestGroup
) -> None:
    manifest = Manifest.objects.create(
        external_id="greet-ada",
        train_name="demo.greet",
        input={"name": "Ada"},
        schedule_type="interval",
        interval_seconds=60,
        group=group,
    )
    data = manifest_data(group)
    del data["is_enabled"]
    response = admin_client.post(reverse("admin:trax_manifest_change", args=[manifest.pk]), data)
    assert response.status_code == 302
    manifest.refresh_from_db()
    assert (manifest.is_enabled, manifest.is_enabled_overridden) == (False, True)
    assert Audit.objects.get().detail["changed"] == ["is_enabled"]


def test_enable_and_disable_actions_switch_manifests_and_audit(
    admin_client: Client, group: ManifestGroup
) -> None:
    on = Manifest.objects.create(external_id="on", train_name="demo.greet", group=group)
    off = Manifest.objects.create(
        external_id="off", train_name="demo.greet", group=group, is_enabled=False
    )
    response = admin_client.post(
        reverse("admin:trax_manifest_changelist"),
        {"action": "disable_selected", "_selected_action": [on.pk, off.pk]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["1 manifest disabled."]
    on.refresh_from_db()
    assert (on.is_enabled, on.is_enabled_overridden) == (False, True)
    assert list(Audit.objects.values_list("action", "target")) == [
        ("manifest.disable", f"manifest:{on.pk}")
    ]


def test_a_group_priority_outside_0_31_is_refused() -> None:
    errors = errors_of(ManifestGroupForm(data={"name": "g", "priority": 40, "is_enabled": "on"}))
    assert "between 0 and 31" in errors["priority"][0]
    assert ManifestGroup.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_active_jobs", 0),
        ("manager_polling_interval_seconds", 0),
        ("retry_backoff_multiplier", 0.5),
        ("retry_delay_seconds", -1),
    ],
)
def test_runtime_settings_refuse_values_settings_trax_would_refuse(field: str, value: Any) -> None:
    errors = errors_of(RuntimeSettingsForm(data={field: value}))
    assert field in errors, errors
    assert RuntimeSettings.objects.count() == 0


def test_runtime_settings_save_who_changed_them(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:trax_runtimesettings_add"),
        {"max_active_jobs": 4, "junction_progress": "unknown", "log_capture": "false"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = RuntimeSettings.objects.get()
    assert (row.max_active_jobs, row.junction_progress, row.log_capture) == (4, None, False)
    assert row.updated_by == "admin"
    audit = Audit.objects.get()
    assert (audit.action, audit.actor) == ("settings.change", "admin")
    assert audit.detail == {"max_active_jobs": [None, 4], "log_capture": [None, False]}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"name": "A\\u0000da"}', "NUL"),
        ('{"name": "' + "x" * 200 + '"}', "MAX_INPUT_BYTES allows at most 100"),
    ],
)
def test_an_unstorable_or_too_long_input_is_a_field_error_not_a_server_error(
    admin_client: Client, group: ManifestGroup, settings: Any, text: str, words: str
) -> None:
    settings.TRAX = {**getattr(settings, "TRAX", {}), "MAX_INPUT_BYTES": 100}

    response = admin_client.post(
        reverse("admin:trax_manifest_add"), manifest_data(group, input=text)
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(words in message for message in errors["input"]), errors
    assert Manifest.objects.count() == 0
