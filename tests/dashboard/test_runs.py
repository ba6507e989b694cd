"""The runs list: the search syntax (each bad term a clear error, nothing searched), filters
by train, state, host, error, group, schedule, time and input field, key paging without
OFFSET, a capped count, escaping, staff only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from dashboard import runs as runs_module
from dashboard.search import SearchError, parse_search
from tests.dashboard.users import operator
from trax.models import Metadata, TrainState

pytestmark = pytest.mark.django_db

URL = reverse("dashboard:runs")


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(operator())
    return client


def run(name: str = "demo.greet", **fields: Any) -> Metadata:
    fields.setdefault("input", {"name": "x"})
    return Metadata.objects.create(name=name, **fields)


def ids(client: Client, q: str = "", **params: Any) -> list[int]:
    response = client.get(URL, {"q": q, **params})
    assert response.status_code == 200, response.content.decode()
    return [row.pk for row in response.context["page"].runs]


def test_anonymous_is_sent_to_the_login_page(client: Client) -> None:
    assert client.get(URL).status_code == 302


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour:red", "unknown search field 'colour'"),
        ("state:sleeping", "state:sleeping is not a run state"),
        ('error:"Timeout', "unclosed quote"),
        ("train:", "train: needs a value"),
        ("since:2026-13-01", "since:2026-13-01 is not a date or time"),
    ],
)
def test_a_search_it_cannot_read_is_an_error_naming_the_term(
    staff: Client, text: str, message: str
) -> None:
    run()
    with pytest.raises(SearchError, match=message):
        parse_search(text)
    response = staff.get(URL, {"q": text})
    assert response.status_code == 400
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert "page" not in response.context


def test_each_field_narrows_the_runs(staff: Client) -> None:
    ada = run(input={"customer_id": 42, "tier": "gold"}, host_name="web-2")
    failed = run(
        "billing.charge",
        train_state=TrainState.FAILED,
        failure_exception="TimeoutError",
        failure_reason="gateway Timeout after 30 s",
    )
    running = run(train_state=TrainState.IN_PROGRESS, input={"customer_id": 7})

    assert ids(staff, "train:billing.charge") == [failed.pk]
    assert ids(staff, "billing.charge") == [failed.pk]
    assert ids(staff, "state:failed") == [failed.pk]
    assert ids(staff, "state:running") == [running.pk]
    assert ids(staff, "host:web-2") == [ada.pk]
    assert ids(staff, 'error:"gateway timeout"') == [failed.pk]
    assert ids(staff, "input.customer_id:42") == [ada.pk]
    assert ids(staff, "input.tier:gold input.customer_id:42") == [ada.pk]
    assert ids(staff, "input.customer_id:43") == []
    assert ids(staff, "state:failed state:in_progress") == [running.pk, failed.pk]


def test_pages_follow_by_key_newest_first(staff: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs_module, "PAGE", 2)
    made = [run().pk for _ in range(5)]

    first = staff.get(URL).context["page"]
    second = staff.get(URL, {"before": first.older_than}).context["page"]
    third = staff.get(URL, {"before": second.older_than}).context["page"]

    pages = [[r.pk for r in page.runs] for page in (first, second, third)]
    assert pages == [made[:-3:-1], made[-3:-5:-1], [made[0]]]
    assert third.older_than is None
    assert staff.get(URL, {"before": "x"}).status_code == 400


def test_the_count_stops_at_its_cap(staff: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs_module, "COUNT_CAP", 3)
    for _ in range(5):
        run()

    page = staff.get(URL).context["page"]

    assert (page.matching, page.capped) == (3, True)


def test_names_and_terms_are_escaped(staff: Client) -> None:
    run("<b>evil</b>")

    page = staff.get(URL, {"q": "<b>evil</b>"}).content.decode()

    assert "&lt;b&gt;evil&lt;/b&gt;" in page and "<b>evil</b>" not in page
