"""The Queue page: queued and dispatched work entries (filtered by state and train, paged by
id), background jobs with who claimed them and their lease; cancelling one or the ticked queued
entries (refused without ``trax.cancel_run``, one audit row, bad input writing nothing), and all
matching through the bulk runner."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard.bulk.runner import wait_for_bulk_operations
from tests.dashboard.users import operator
from trax.models import Audit, BackgroundJob, BulkOperation, Metadata, WorkQueue

URL = reverse("dashboard:queue")
CANCEL = reverse("dashboard:queue_cancel")
CANCELLER = ("view_console", "cancel_run")


def entry(train: str = "demo.greet", status: str = "queued", **fields: Any) -> WorkQueue:
    return WorkQueue.objects.create(train_name=train, status=status, **fields)


def as_user(client: Client, *permissions: str) -> Client:
    name = "ops" if "cancel_run" in permissions else "viewer"
    user = get_user_model().objects.filter(username=name).first()
    client.force_login(user or operator(name, permissions=permissions or ("view_console",)))
    return client


def shown(html: str, kind: str = "entry") -> list[int]:
    return [int(part.split('"', 1)[0]) for part in html.split(f'data-{kind}="')[1:]]


def statuses() -> dict[int, str]:
    return dict(WorkQueue.objects.values_list("id", "status"))


@pytest.mark.django_db
def test_entries_with_their_runs_and_jobs_with_claim_and_lease(client: Client) -> None:
    queued = entry(priority=7, scheduled_at=timezone.now() + timedelta(minutes=5))
    run = Metadata.objects.create(name="demo.slow", train_state="in_progress")
    dispatched = entry("demo.slow", "dispatched", metadata=run)
    entry(status="cancelled")
    held = BackgroundJob.objects.create(
        metadata=run,
        claimed_by="worker-7",
        claim_token=uuid.uuid4(),
        lease_expires_at=timezone.now() - timedelta(seconds=5),
    )
    waiting = BackgroundJob.objects.create(
        metadata=Metadata.objects.create(name="demo.greet", train_state="pending")
    )

    html = as_user(client).get(URL).content.decode()

    assert shown(html) == [dispatched.pk, queued.pk], "cancelled entries only when asked"
    assert f'href="/trax/runs/{run.pk}/">#{run.pk}</a> <span class="in_progress">' in html
    assert shown(html, "job") == [held.pk, waiting.pk]
    assert "worker-7" in html and "expired" in html and "waiting for a worker" in html
    assert "Cancel</button>" not in html, "the buttons show only to who may press them"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("state:queued", ["q-greet", "q-slow"]),
        ("state:cancelled", ["c-greet"]),
        ("state:queued state:cancelled", ["c-greet", "q-greet", "q-slow"]),
        ("train:demo.slow", ["d-slow", "q-slow"]),
        ("slow", ["d-slow", "q-slow"]),
        ("State:queued", None),
    ],
)
def test_the_filter(client: Client, q: str, expected: list[str] | None) -> None:
    made = {
        "q-slow": entry("demo.slow"),
        "q-greet": entry("demo.greet"),
        "d-slow": entry("demo.slow", "dispatched"),
        "c-greet": entry("demo.greet", "cancelled"),
    }
    names = {e.pk: name for name, e in made.items()}
    response = as_user(client).get(URL, {"q": q})
    if expected is None:
        assert response.status_code == 400 and b"unknown filter field" in response.content
        return
    assert sorted(names[pk] for pk in shown(response.content.decode())) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"q": "state:lost"}, "state:lost is not a work entry state"),
        ({"q": "host:x"}, "unknown filter field &#x27;host&#x27;"),
        ({"q": "'x"}, "unclosed quote"),
        ({"before": "-1"}, "is not a valid work entry id"),
    ],
)
def test_a_filter_it_cannot_read_is_named(
    client: Client, params: dict[str, str], says: str
) -> None:
    entry()
    response = as_user(client).get(URL, params)
    assert response.status_code == 400 and says in response.content.decode()
    assert shown(response.content.decode()) == []


@pytest.mark.django_db
def test_pages_follow_by_id(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dashboard.queue.listing.PAGE", 2)
    made = [entry() for _ in range(3)]
    first = as_user(client).get(URL).content.decode()
    assert shown(first) == [made[2].pk, made[1].pk] and f"before={made[1].pk}" in first
    assert shown(client.get(URL, {"before": made[1].pk}).content.decode()) == [made[0].pk]


@pytest.mark.django_db
def test_cancel_one_queued_entry_with_one_audit_row(client: Client) -> None:
    queued, other = entry(), entry()

    response = as_user(client, *CANCELLER).post(
        reverse("dashboard:queue_cancel_one", args=[queued.pk]), follow=True
    )

    assert statuses() == {queued.pk: "cancelled", other.pk: "queued"}
    audit = Audit.objects.get()
    assert (audit.actor, audit.action, audit.target, audit.detail) == (
        "ops",
        "queue.cancel",
        f"work_entry:{queued.pk}",
        {"ids": [queued.pk], "count": 1, "from": "console"},
    )
    assert "Cancelled 1 queued entry." in response.content.decode()


@pytest.mark.django_db
def test_cancel_ticked_leaves_dispatched_entries_alone(client: Client) -> None:
    queued, dispatched = entry(), entry(status="dispatched")

    response = as_user(client, *CANCELLER).post(
        CANCEL, {"ids": [queued.pk, dispatched.pk]}, follow=True
    )

    assert statuses() == {queued.pk: "cancelled", dispatched.pk: "dispatched"}
    assert Audit.objects.get().detail["ids"] == [queued.pk]
    assert "1 no longer queued (dispatched or cancelled)" in response.content.decode()
    response = client.post(CANCEL, {"ids": [dispatched.pk]}, follow=True)
    assert "1 no longer queued" in response.content.decode() and Audit.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ids", "status", "says"),
    [
        (["424242"], 404, "No work entry has the id(s) 424242"),
        (["{queued}", "424242"], 404, "No work entry has the id(s) 424242"),
        (["x1"], 400, "Not a work entry id: &#x27;x1&#x27;"),
        (["<b>"], 400, "Not a work entry id: &#x27;&lt;b&gt;&#x27;"),
        ([], 400, "No work entry was ticked"),
    ],
)
def test_bad_input_is_named_and_nothing_written(
    client: Client, ids: list[str], status: int, says: str
) -> None:
    queued = entry()
    form = {"ids": [value.replace("{queued}", str(queued.pk)) for value in ids]}

    response = as_user(client, *CANCELLER).post(CANCEL, form)

    assert response.status_code == status
    assert says in response.content.decode() and "Nothing was changed" in response.content.decode()
    assert statuses() == {queued.pk: "queued"} and not Audit.objects.exists()


@pytest.mark.django_db
def test_cancelling_needs_the_permission_and_a_post(client: Client) -> None:
    queued = entry()
    one = reverse("dashboard:queue_cancel_one", args=[queued.pk])
    refused = as_user(client).post(one)
    assert refused.status_code == 403 and b"trax.cancel_run" in refused.content
    assert as_user(client, *CANCELLER).get(one).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator("strict", permissions=CANCELLER))
    assert strict.post(one).status_code == 403
    assert statuses() == {queued.pk: "queued"} and not Audit.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_cancel_all_matching_in_the_background_with_one_audit_row(client: Client) -> None:
    slow = [entry("demo.slow") for _ in range(3)]
    greet = entry("demo.greet")
    as_user(client, *CANCELLER)

    client.post(
        reverse("dashboard:bulk_start"),
        {"page": "queue", "action": "cancel", "q": "train:demo.slow", "confirm": "yes"},
    )
    assert wait_for_bulk_operations(timeout=30)

    assert {statuses()[e.pk] for e in slow} == {"cancelled"} and statuses()[greet.pk] == "queued"
    operation = BulkOperation.objects.get()
    audit = Audit.objects.get()
    assert (audit.action, audit.target, audit.detail["changed"]) == (
        "queue.cancel",
        f"bulk:{operation.pk}",
        3,
    )
