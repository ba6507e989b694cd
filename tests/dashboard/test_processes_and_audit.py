"""The Processes page (workers and schedulers, the leader, heartbeat ages with stale ones
marked, concurrency, runs in flight) and the Audit page (who did what, when, to which object;
filtered by actor, action and target; live on the ``audit`` topic); the four operations pages
refuse anonymous, non-staff and staff without the view permission; the overview links its dead
letter figures to the Dead letters page."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import trax
from dashboard.live.hub import ALL_TOPICS, topics_of
from tests.dashboard.users import operator
from trax.conf import get_settings
from trax.events.channels import CHANGED
from trax.events.listener import Event
from trax.models import Audit, DeadLetter, Leader, Worker
from trax.store import audit_record

pytestmark = pytest.mark.django_db

PAGES = ("queue", "dead_letters", "processes", "audit")


def process(worker_id: str, *, silent: float, kind: str = "worker", **fields: object) -> Worker:
    now = timezone.now()
    return Worker.objects.create(
        worker_id=worker_id,
        host=fields.pop("host", "web-1"),
        pid=fields.pop("pid", 41),
        kind=kind,
        started_at=now - timedelta(hours=1),
        last_heartbeat_at=now - timedelta(seconds=silent),
        **fields,
    )


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(operator())
    return client


# ── who may look ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_non_staff_and_staff_without_the_permission_are_refused(
    client: Client, page: str
) -> None:
    url = reverse(f"dashboard:{page}")
    assert client.get(url).status_code == 302  # anonymous: to the admin's login form
    client.force_login(get_user_model().objects.create_user("visitor", password="x"))
    assert "/admin/login/" in client.get(url)["Location"]
    client.force_login(operator("bare", permissions=()))
    refused = client.get(url)
    assert refused.status_code == 403 and b"trax.view_console" in refused.content
    client.force_login(operator("viewer"))
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 405, "the lists are read with GET only"


@pytest.mark.parametrize("page", PAGES)
def test_the_live_part_is_served_alone_to_the_page_script(staff: Client, page: str) -> None:
    whole = staff.get(reverse(f"dashboard:{page}")).content.decode()
    part = staff.get(reverse(f"dashboard:{page}"), HTTP_X_TRAX_FRAGMENT="1").content.decode()
    assert "<html" in whole and "<html" not in part and part.strip()


# ── processes ────────────────────────────────────────────────────────────────────────────────


def test_processes_with_leader_heartbeat_concurrency_and_stale_ones_marked(staff: Client) -> None:
    lease = get_settings().LEASE_SECONDS
    process("sched-1", silent=1, kind="scheduler", host="ops-1")
    process("worker-a", silent=2, concurrency=8, runs_in_flight=3)
    process("worker-gone", silent=lease + 60, concurrency=4, runs_in_flight=1)
    Leader.objects.create(
        name="manager",
        holder="sched-1",
        token=uuid.uuid4(),
        expires_at=timezone.now() + timedelta(seconds=20),
    )

    html = staff.get(reverse("dashboard:processes")).content.decode()

    rows = {part.split('"', 1)[0]: part for part in html.split('data-process="')[1:]}
    assert list(rows) == ["sched-1", "worker-a", "worker-gone"]
    assert "leader (manager)" in rows["sched-1"] and "leader" not in rows["worker-a"]
    assert 'class="process-stale"' in rows["worker-gone"] and "stale" in rows["worker-gone"]
    assert "stale" not in rows["worker-a"].split("</tr>")[0]
    assert "<td>3</td>\n      <td>8</td>" in rows["worker-a"]
    assert 'data-metric="stale">1<' in html and 'data-metric="in-flight">3<' in html
    assert 'data-lease="manager"' in html


def test_an_expired_lease_says_there_is_no_leader(staff: Client) -> None:
    Leader.objects.create(
        name="manager",
        holder="<b>gone</b>",
        token=uuid.uuid4(),
        expires_at=timezone.now() - timedelta(seconds=5),
    )
    html = staff.get(reverse("dashboard:processes")).content.decode()
    assert "expired: no leader" in html and "not a registered process" in html
    assert "&lt;b&gt;gone&lt;/b&gt;" in html and "<b>gone</b>" not in html


# ── audit ────────────────────────────────────────────────────────────────────────────────────


def rows(html: str) -> list[int]:
    return [int(part.split('"', 1)[0]) for part in html.split('data-audit="')[1:]]


@pytest.fixture
def trail() -> dict[str, Audit]:
    return {
        "retry": audit_record(
            actor="alice", action="dead_letters.retry", target="dead_letter:7", detail={"n": 1}
        ),
        "cancel": audit_record(actor="bob", action="runs.cancel", target="run:42"),
        "bulk": audit_record(actor="alice", action="queue.cancel", target="bulk:3"),
        "edit": audit_record(
            actor="<i>eve</i>",
            action="schedules.edit",
            target="manifest:5",
            detail={"note": "<script>alert(1)</script>"},
        ),
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("", ["edit", "bulk", "cancel", "retry"]),
        ("actor:alice", ["bulk", "retry"]),
        ("action:dead_letters", ["retry"]),
        ("action:dead_letters.retry", ["retry"]),
        ("action:dead", []),
        ("target:run", ["cancel"]),
        ("target:run:42", ["cancel"]),
        ("cancel", ["bulk", "cancel"]),
        ("actor:alice action:queue", ["bulk"]),
    ],
)
def test_the_audit_filter(
    staff: Client, trail: dict[str, Audit], q: str, expected: list[str]
) -> None:
    names = {row.pk: name for name, row in trail.items()}
    response = staff.get(reverse("dashboard:audit"), {"q": q})
    assert response.status_code == 200
    assert [names[pk] for pk in rows(response.content.decode())] == expected


def test_audit_rows_link_their_targets_and_are_escaped(
    staff: Client, trail: dict[str, Audit]
) -> None:
    html = staff.get(reverse("dashboard:audit")).content.decode()
    assert 'href="/trax/runs/42/">run:42</a>' in html
    assert 'href="/trax/schedules/5/">manifest:5</a>' in html
    assert 'href="/trax/bulk/3/">bulk:3</a>' in html
    assert "&lt;i&gt;eve&lt;/i&gt;" in html and "<i>eve" not in html
    assert "&lt;script&gt;" in html and "<script>alert" not in html
    assert 'data-live-topics="audit"' in html


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"q": "who:alice"}, "unknown filter field &#x27;who&#x27;"),
        ({"q": "actor:"}, "actor: needs a value"),
        ({"q": "'; DROP TABLE trax_audit; --"}, "unclosed quote"),
        ({"before": "1e3"}, "is not a valid audit row id"),
    ],
)
def test_an_audit_filter_it_cannot_read_is_named(
    staff: Client, trail: dict[str, Audit], params: dict[str, str], says: str
) -> None:
    response = staff.get(reverse("dashboard:audit"), params)
    assert response.status_code == 400 and says in response.content.decode()
    assert Audit.objects.count() == 4


def test_sql_in_a_filter_is_only_text(staff: Client, trail: dict[str, Audit]) -> None:
    response = staff.get(reverse("dashboard:audit"), {"q": "actor:\"x' OR '1'='1\""})
    assert response.status_code == 200 and rows(response.content.decode()) == []
    assert Audit.objects.count() == 4


def test_audit_pages_follow_by_id(staff: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dashboard.audit.listing.PAGE", 2)
    made = [audit_record(actor="a", action="x.y", target=f"t:{i}") for i in range(3)]
    first = staff.get(reverse("dashboard:audit")).content.decode()
    assert rows(first) == [made[2].pk, made[1].pk] and f"before={made[1].pk}" in first
    second = staff.get(reverse("dashboard:audit"), {"before": made[1].pk}).content.decode()
    assert rows(second) == [made[0].pk]


def test_audit_is_a_live_topic() -> None:
    assert "audit" in ALL_TOPICS
    assert topics_of([Event(CHANGED, "audit")]) == {"audit"}


# ── the overview's links ─────────────────────────────────────────────────────────────────────


def test_the_overview_links_its_dead_letter_figures_to_the_dead_letters_page(
    staff: Client,
) -> None:
    manifest = trax.scheduler.schedule(
        "nightly run", "demo.greet", {"name": "n"}, trax.Every.minutes(10)
    )
    DeadLetter.objects.create(manifest=manifest, reason="boom")

    html = staff.get(reverse("dashboard:overview")).content.decode()

    assert 'href="/trax/dead-letters/?q=status:awaiting"' in html
    link = "/trax/dead-letters/?q=status:awaiting+manifest%3A%27nightly%20run%27"
    assert f'href="{link}">nightly run</a>' in html
    filtered = staff.get(link).content.decode()
    assert filtered.count('data-letter="') == 1 and "nightly run" in filtered
