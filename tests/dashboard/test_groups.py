"""The Groups page: members, cap, priority, switch and runs active now; edit (the admin's and
the API's checks, nothing saved on a problem), trigger all, cancel all running — each refused
without its permission and audited with its count."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

import trax
from tests.dashboard.users import operator
from trax.models import Audit, ManifestGroup, Metadata, TrainState, WorkQueue

pytestmark = pytest.mark.django_db

MANAGER = ("view_console", "manage_schedules")


@pytest.fixture
def etl() -> ManifestGroup:
    group = trax.Group("etl", max_active_jobs=2, priority=3)
    for name in ("extract", "load"):
        trax.scheduler.schedule(
            name, "demo.greet", {"name": name}, trax.Every.minutes(5), group=group
        )
    trax.scheduler.schedule_dependent("report", "demo.greet", {"name": "r"}, "load", group="etl")
    trax.scheduler.disable("load")
    return ManifestGroup.objects.get(name="etl")


def as_user(client: Client, *permissions: str) -> Client:
    client.force_login(operator("ops", permissions=permissions or ("view_console",)))
    return client


def running(group: ManifestGroup, state: str = TrainState.IN_PROGRESS) -> Metadata:
    manifest = group.manifests.get(external_id="extract")
    return Metadata.objects.create(name="demo.greet", manifest=manifest, train_state=state)


def test_each_group_with_members_limits_and_active_runs(client: Client, etl: ManifestGroup) -> None:
    running(etl)
    running(etl, TrainState.PENDING)
    running(etl, TrainState.COMPLETED)

    html = as_user(client).get(reverse("dashboard:groups")).content.decode()

    row = html.split(f'id="group-{etl.pk}"', 1)[1].split("</tr>", 1)[0]
    assert ">extract</a>" in row and ">load</a>" in row and ">report</a>" in row
    assert "2 of 3 enabled" in row
    assert 'data-metric="active"><span class="in_progress">2</span> <small' in row
    assert "at its cap" in row and "Cancel all running" in row


def test_names_are_escaped(client: Client) -> None:
    trax.scheduler.schedule("x", "demo.greet", {"name": "x"}, trax.Every.minutes(5), group="<i>g")
    html = as_user(client).get(reverse("dashboard:groups")).content.decode()
    assert "&lt;i&gt;g" in html and "<i>g" not in html


def test_anonymous_non_staff_and_staff_without_the_view_permission_are_refused(
    client: Client, etl: ManifestGroup, django_user_model: Any
) -> None:
    urls = [reverse("dashboard:groups"), reverse("dashboard:group", args=[etl.pk])]
    assert all(client.get(url).status_code == 302 for url in urls)
    client.force_login(django_user_model.objects.create_user("visitor", password="x"))
    assert all(client.get(url).status_code == 302 for url in urls)
    client.force_login(operator("staff-only", permissions=()))
    assert all(client.get(url).status_code == 403 for url in urls)
    assert client.get(reverse("dashboard:group", args=[999999])).status_code == 403


def test_trigger_all_queues_every_enabled_timed_member_and_is_audited(
    client: Client, etl: ManifestGroup
) -> None:
    url = reverse("dashboard:group_trigger", args=[etl.pk])

    response = as_user(client, *MANAGER).post(url, follow=True)

    assert "Group etl: 1 schedule queued to run now." in response.content.decode()
    triggered = WorkQueue.objects.filter(is_explicit_trigger=True)
    assert list(triggered.values_list("manifest__external_id", flat=True)) == ["extract"]
    audit = Audit.objects.get(action="groups.trigger")
    assert (audit.actor, audit.target) == ("ops", f"group:{etl.pk}")
    assert audit.detail == {"group": "etl", "triggered": 1, "from": "console"}
    assert not Audit.objects.filter(action="manifest.trigger").exists()


def test_cancel_all_running_stops_the_groups_active_runs_and_is_audited(
    client: Client, etl: ManifestGroup
) -> None:
    url = reverse("dashboard:group_cancel", args=[etl.pk])
    viewer = as_user(client, "view_console", "cancel_run")
    quiet = viewer.post(reverse("dashboard:group_cancel", args=[etl.pk]), follow=True)
    assert "had nothing running" in quiet.content.decode()
    active = [running(etl), running(etl, TrainState.PENDING)]

    response = viewer.post(url, follow=True)

    assert "Group etl: 2 runs cancelled." in response.content.decode()
    in_progress, pending = (Metadata.objects.get(pk=run.pk) for run in active)
    assert in_progress.cancellation_requested  # its worker stops it at its next check
    assert pending.train_state == TrainState.CANCELLED
    assert Audit.objects.filter(action="groups.cancel").latest("id").detail["cancelled"] == 2


@pytest.mark.parametrize(
    ("name", "permission"),
    [("group_trigger", "manage_schedules"), ("group_cancel", "cancel_run"),
     ("group_edit", "manage_schedules")],
)  # fmt: skip
def test_every_action_is_refused_without_its_permission_and_on_get(
    client: Client, etl: ManifestGroup, name: str, permission: str
) -> None:
    running(etl)
    url = reverse(f"dashboard:{name}", args=[etl.pk])
    audits = Audit.objects.count()
    assert client.post(url).status_code == 302
    other = "manage_schedules" if permission == "cancel_run" else "cancel_run"
    viewer = as_user(client, "view_console", other)
    refused = viewer.post(url, {"name": "renamed", "priority": 1})
    assert refused.status_code == 403 and f"trax.{permission}".encode() in refused.content
    assert viewer.get(url).status_code == 405
    assert viewer.post(reverse(f"dashboard:{name}", args=[999999])).status_code in (403, 404)
    assert Audit.objects.count() == audits
    assert not WorkQueue.objects.filter(is_explicit_trigger=True).exists()
    assert Metadata.objects.filter(train_state=TrainState.IN_PROGRESS).count() == 1
    assert ManifestGroup.objects.get(pk=etl.pk).name == "etl"


def test_unknown_groups_are_not_found(client: Client) -> None:
    viewer = as_user(client, "view_console", "manage_schedules", "cancel_run")
    for name in ("group_trigger", "group_cancel", "group_edit"):
        assert viewer.post(reverse(f"dashboard:{name}", args=[999999])).status_code == 404
    assert viewer.get(reverse("dashboard:group", args=[999999])).status_code == 404
    assert not Audit.objects.exists()


def data(group: ManifestGroup, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": group.name,
        "max_active_jobs": group.max_active_jobs or "",
        "priority": group.priority,
        "is_enabled": "on" if group.is_enabled else "",
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value != ""}


def test_an_edit_saves_and_is_audited_before_and_after(client: Client, etl: ManifestGroup) -> None:
    url = reverse("dashboard:group_edit", args=[etl.pk])

    response = as_user(client, *MANAGER).post(
        url, data(etl, max_active_jobs=5, is_enabled=""), follow=True
    )

    assert "Saved group etl" in response.content.decode()
    saved = ManifestGroup.objects.get(pk=etl.pk)
    assert (saved.max_active_jobs, saved.is_enabled) == (5, False)
    audit = Audit.objects.get(action="groups.edit")
    assert audit.detail["before"] == {"max_active_jobs": 2, "is_enabled": True}
    assert audit.detail["after"] == {"max_active_jobs": 5, "is_enabled": False}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"priority": 32}, "Priority must be between 0 and 31"),
        ({"max_active_jobs": 0}, "A cap must be at least 1"),
        ({"max_active_jobs": "many"}, "Max active jobs:"),
        ({"name": ""}, "Name:"),
        ({"name": "taken"}, "already exists"),
    ],
)
def test_a_bad_edit_names_the_field_and_saves_nothing(
    client: Client, etl: ManifestGroup, changes: dict[str, Any], named: str
) -> None:
    ManifestGroup.objects.create(name="taken")
    before = ManifestGroup.objects.filter(pk=etl.pk).values().get()
    audits = Audit.objects.count()

    response = as_user(client, *MANAGER).post(
        reverse("dashboard:group_edit", args=[etl.pk]), data(etl, **changes)
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing saved." in html and named in html
    assert ManifestGroup.objects.filter(pk=etl.pk).values().get() == before
    assert Audit.objects.count() == audits


def test_the_live_parts_alone_on_the_page_scripts_request(
    client: Client, etl: ManifestGroup
) -> None:
    viewer = as_user(client)
    whole = viewer.get(reverse("dashboard:groups")).content.decode()
    assert 'data-live-topics="runs schedules"' in whole
    for url in (reverse("dashboard:groups"), reverse("dashboard:group", args=[etl.pk])):
        html = viewer.get(url, HTTP_X_TRAX_FRAGMENT="1").content.decode()
        assert (
            "extract" in html and "<html" not in html and '<form method="post" action' not in html
        )
