"""Cancelling runs from the admin: the bulk action and the button on a run's page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from trax.models import Audit, Metadata, TrainState
from trax.store import HostStamp, metadata_create, metadata_start

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:trax_metadata_changelist"


def pending_run(**kwargs: object) -> Metadata:
    return metadata_create(name="demo.slow", input={"steps": 3}, **kwargs)  # type: ignore[arg-type]


def running_run() -> Metadata:
    run = pending_run()
    assert metadata_start(run.pk, host=HostStamp(name="test"))
    return run


def finished_run(state: TrainState = TrainState.COMPLETED) -> Metadata:
    run = pending_run()
    Metadata.objects.filter(pk=run.pk).update(train_state=state)
    return run


def cancel_action(client: Client, *runs: Metadata) -> list[str]:
    response = client.post(
        reverse(CHANGELIST),
        {"action": "cancel_selected_runs", "_selected_action": [run.pk for run in runs]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


def test_the_action_cancels_pending_flags_running_and_skips_finished_runs(
    admin_client: Client,
) -> None:
    pending, running = pending_run(), running_run()
    completed, failed = finished_run(), finished_run(TrainState.FAILED)

    messages = cancel_action(admin_client, pending, running, completed, failed)

    assert messages == [
        "Cancelled 1 run; flagged 1 running run to stop at the next junction; "
        "skipped 2 runs that had already finished."
    ]
    pending.refresh_from_db()
    running.refresh_from_db()
    completed.refresh_from_db()
    assert (pending.train_state, pending.cancel_reason) == (TrainState.CANCELLED, "operator")
    assert (running.train_state, running.cancellation_requested) == (TrainState.IN_PROGRESS, True)
    assert (completed.train_state, completed.cancellation_requested) == (
        TrainState.COMPLETED,
        False,
    )
    audits = {a.target: a for a in Audit.objects.all()}
    assert set(audits) == {f"run:{pending.pk}", f"run:{running.pk}"}
    assert all(a.actor == "admin" and a.action == "run.cancel" for a in audits.values())
    assert audits[f"run:{pending.pk}"].detail["outcome"] == "cancelled"
    assert audits[f"run:{running.pk}"].detail["outcome"] == "flagged"


def test_cancelling_a_run_cancels_its_children(admin_client: Client) -> None:
    parent = pending_run()
    child = pending_run(parent_id=parent.pk)
    cancel_action(admin_client, parent)
    child.refresh_from_db()
    assert (child.train_state, child.cancel_reason) == (TrainState.CANCELLED, "parent")
    assert Audit.objects.get().detail["runs_affected"] == 2


def test_only_finished_runs_selected_is_a_warning_with_no_audit(admin_client: Client) -> None:
    assert cancel_action(admin_client, finished_run()) == [
        "Skipped 1 run that had already finished."
    ]
    assert Audit.objects.count() == 0


def test_the_run_page_has_a_cancel_button_only_while_the_run_is_active(
    admin_client: Client,
) -> None:
    active, done = pending_run(), finished_run()
    cancel_url = reverse("admin:trax_metadata_cancel", args=[active.pk])
    page = admin_client.get(reverse("admin:trax_metadata_change", args=[active.pk]))
    assert f'formaction="{cancel_url}"' in page.content.decode()
    page = admin_client.get(reverse("admin:trax_metadata_change", args=[done.pk]))
    assert "Cancel this run" not in page.content.decode()


def test_the_cancel_button_cancels_the_run(admin_client: Client) -> None:
    run = running_run()
    response = admin_client.post(reverse("admin:trax_metadata_cancel", args=[run.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:trax_metadata_change", args=[run.pk])
    assert [str(m) for m in response.context["messages"]] == [
        "Flagged 1 running run to stop at the next junction."
    ]
    run.refresh_from_db()
    assert run.cancellation_requested
    assert Audit.objects.get().target == f"run:{run.pk}"


def test_the_cancel_view_takes_only_post(admin_client: Client) -> None:
    run = pending_run()
    assert admin_client.get(reverse("admin:trax_metadata_cancel", args=[run.pk])).status_code == 405
    run.refresh_from_db()
    assert run.train_state == TrainState.PENDING


def test_the_cancel_view_checks_csrf(admin_user: object) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)  # type: ignore[arg-type]
    run = pending_run()
    assert client.post(reverse("admin:trax_metadata_cancel", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.train_state == TrainState.PENDING


def test_the_cancel_view_sends_non_staff_to_login() -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_user("plain", password="pw-12345678"))
    run = pending_run()
    response = client.post(reverse("admin:trax_metadata_cancel", args=[run.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    run.refresh_from_db()
    assert run.train_state == TrainState.PENDING


def test_staff_who_may_only_view_runs_cannot_cancel_them() -> None:
    user = get_user_model().objects.create_user("viewer", password="pw-12345678", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_metadata"))
    client = Client()
    client.force_login(user)
    run = pending_run()
    page = client.get(reverse("admin:trax_metadata_change", args=[run.pk])).content.decode()
    assert "Cancel this run" not in page
    listing = client.get(reverse(CHANGELIST)).content.decode()
    assert "cancel_selected_runs" not in listing
    assert client.post(reverse("admin:trax_metadata_cancel", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.train_state == TrainState.PENDING
