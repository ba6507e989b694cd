"""Actions on all matching objects: asked with a count, confirmed, run in batches by key in the
background with progress, one audit record with the counts; refused and validated before
anything is written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

import dashboard.bulk.runner as runner
from dashboard.bulk import actions
from dashboard.bulk.actions import BulkAction, register
from dashboard.bulk.runner import run_bulk, wait_for_bulk_operations
from tests.dashboard.users import operator
from trax.models import Audit, BulkOperation, Metadata, TrainState
from trax.store import bulk_operation_start

START = reverse("dashboard:bulk_start")


def pending(name: str, count: int, **fields: Any) -> list[Metadata]:
    return [Metadata.objects.create(name=name, input={"n": i}, **fields) for i in range(count)]


@pytest.fixture
def canceller(client: Client) -> Client:
    client.force_login(operator("canceller", permissions=("view_console", "cancel_run")))
    return client


@pytest.mark.django_db
def test_the_first_post_asks_with_the_count_and_writes_nothing(canceller: Client) -> None:
    pending("demo.slow", 3)
    pending("demo.greet", 2)

    asked = canceller.post(START, {"page": "runs", "action": "cancel", "q": "train:demo.slow"})

    assert asked.status_code == 200
    assert b'data-metric="bulk-count">3<' in asked.content
    assert not BulkOperation.objects.exists() and not Audit.objects.exists()
    assert Metadata.objects.filter(train_state=TrainState.PENDING).count() == 5


@pytest.mark.django_db(transaction=True)
def test_confirmed_it_cancels_every_match_in_the_background_with_one_audit_record(
    canceller: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(actions, "BATCH", 2)
    monkeypatch.setattr(runner, "BATCH", 2)
    slow = pending("demo.slow", 5)
    others = pending("demo.greet", 2)
    done = Metadata.objects.create(name="demo.slow", train_state=TrainState.COMPLETED)

    started = canceller.post(
        START, {"page": "runs", "action": "cancel", "q": "train:demo.slow", "confirm": "yes"}
    )
    assert started.status_code == 302
    assert wait_for_bulk_operations(timeout=30)

    operation = BulkOperation.objects.get()
    assert started["Location"] == reverse("dashboard:bulk", args=[operation.pk])
    assert (operation.state, operation.total, operation.processed, operation.changed) == (
        "done",
        5,
        5,
        5,
    )
    assert {r.train_state for r in Metadata.objects.filter(id__in=[r.pk for r in slow])} == {
        TrainState.CANCELLED
    }
    assert {r.train_state for r in Metadata.objects.filter(id__in=[r.pk for r in others])} == {
        TrainState.PENDING
    }
    assert Metadata.objects.get(pk=done.pk).train_state == TrainState.COMPLETED
    audit = Audit.objects.get()
    assert (audit.actor, audit.action, audit.target) == (
        "canceller",
        "runs.cancel",
        f"bulk:{operation.pk}",
    )
    assert audit.detail["matched"] == 5 and audit.detail["all_matching"] == "train:demo.slow"

    shown = canceller.get(started["Location"]).content.decode()
    assert 'data-state="done"' in shown and "5 of 5 matched, 5 changed" in shown


@pytest.mark.django_db
def test_batches_walk_by_key_so_objects_leaving_the_filter_are_not_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "BATCH", 3)
    monkeypatch.setattr(actions, "_ACTIONS", dict(actions._ACTIONS))
    runs = pending("demo.slow", 7)
    batches: list[list[int]] = []

    def record(ids: list[int], actor: str, params: Mapping[str, str]) -> int:
        batches.append(ids)
        return Metadata.objects.filter(id__in=ids).update(train_state=TrainState.CANCELLED)

    register(
        BulkAction(
            page="test",
            name="record",
            label="Record",
            permission="trax.cancel_run",
            matching=lambda q: Metadata.objects.filter(train_state=TrainState.PENDING),
            apply=record,
        )
    )
    operation = bulk_operation_start(
        actor="a", page="test", action="record", query="", params={}, using="default"
    )

    run_bulk(operation.pk)

    ids = sorted((r.pk for r in runs), reverse=True)
    assert batches == [ids[0:3], ids[3:6], ids[6:7]]
    operation.refresh_from_db()
    assert (operation.state, operation.processed, operation.changed) == ("done", 7, 7)


@pytest.mark.django_db
def test_an_action_that_fails_midway_is_recorded_failed_with_what_it_did(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(actions, "_ACTIONS", dict(actions._ACTIONS))
    pending("demo.slow", 2)

    def explode(ids: list[int], actor: str, params: Mapping[str, str]) -> int:
        if ids:
            raise RuntimeError("the disk is full")
        return 0

    register(
        BulkAction(
            page="test",
            name="explode",
            label="Explode",
            permission="trax.cancel_run",
            matching=lambda q: Metadata.objects.all(),
            apply=explode,
        )
    )
    operation = bulk_operation_start(
        actor="a", page="test", action="explode", query="", params={}, using="default"
    )

    run_bulk(operation.pk)

    operation.refresh_from_db()
    assert operation.state == "failed" and "the disk is full" in operation.error
    assert "the disk is full" in Audit.objects.get(target=f"bulk:{operation.pk}").detail["error"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        ({"page": "runs", "action": "explode"}, 400, "no bulk action 'explode' on page 'runs'"),
        ({"page": "nowhere", "action": "cancel"}, 400, "no bulk action 'cancel'"),
        ({"page": "runs", "action": "cancel", "q": "colour:red"}, 400, "unknown search field"),
        (
            {"page": "runs", "action": "cancel", "q": 'error:"open', "confirm": "yes"},
            400,
            "unclosed quote",
        ),
    ],
)
def test_bad_input_is_refused_naming_it_and_nothing_is_written(
    canceller: Client, form: dict[str, str], status: int, says: str
) -> None:
    pending("demo.slow", 2)

    refused = canceller.post(START, form)

    assert refused.status_code == status and says in refused.content.decode()
    assert not BulkOperation.objects.exists() and not Audit.objects.exists()
    assert Metadata.objects.filter(train_state=TrainState.PENDING).count() == 2


@pytest.mark.django_db
def test_it_needs_the_actions_permission_a_post_and_staff(client: Client) -> None:
    pending("demo.slow", 2)
    form = {"page": "runs", "action": "cancel", "q": "", "confirm": "yes"}

    assert client.post(START, form).status_code == 302  # anonymous: to the login form
    client.force_login(operator("viewer"))
    refused = client.post(START, form)
    assert refused.status_code == 403 and b"trax.cancel_run" in refused.content
    client.force_login(operator("canceller", permissions=("view_console", "cancel_run")))
    assert client.get(START).status_code == 405

    assert not BulkOperation.objects.exists()
    assert Metadata.objects.filter(train_state=TrainState.PENDING).count() == 2


@pytest.mark.django_db
def test_the_button_shows_only_to_who_may_press_it(client: Client) -> None:
    client.force_login(operator("viewer"))
    assert b"Cancel all matching" not in client.get(reverse("dashboard:runs")).content
    client.force_login(operator("canceller", permissions=("view_console", "cancel_run")))
    assert b"Cancel all matching" in client.get(reverse("dashboard:runs")).content


@pytest.mark.django_db
def test_an_operation_whose_process_died_shows_interrupted(canceller: Client) -> None:
    operation = bulk_operation_start(
        actor="a", page="runs", action="cancel", query="", params={}, using="default"
    )
    BulkOperation.objects.filter(pk=operation.pk).update(
        updated_at=operation.updated_at.replace(year=2000)
    )

    shown = canceller.get(reverse("dashboard:bulk", args=[operation.pk])).content.decode()

    assert 'data-state="interrupted"' in shown
    assert canceller.get(reverse("dashboard:bulk", args=[999999])).status_code == 404
