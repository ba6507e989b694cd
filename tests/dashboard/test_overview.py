"""The console's overview: staff only; numbers from partial indexes and the rollups; the live
part served alone to the page's own script; names escaped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import trax
from tests.dashboard.users import operator
from trax.models import DeadLetter, Leader, Manifest, Metadata, TrainState, Worker, WorkQueue
from trax.store import rollup_fold
from trax.testing import drain

pytestmark = pytest.mark.django_db

URL = reverse("dashboard:overview")


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(operator())
    return client


@pytest.mark.parametrize("staff_flag", [None, False])
def test_anonymous_and_non_staff_users_are_sent_to_the_login_page(
    client: Client, staff_flag: bool | None
) -> None:
    if staff_flag is not None:
        user = get_user_model().objects.create_user("visitor", password="x", is_staff=False)
        client.force_login(user)

    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def metric(page: str, name: str) -> str:
    marker = f'data-metric="{name}">'
    start = page.index(marker) + len(marker)
    return page[start : page.index("<", start)]


def test_the_overview_counts_what_runs_waits_fails_and_works(staff: Client) -> None:
    trax.enqueue_many("demo.greet", [{"name": "a"}, {"name": "b"}])
    trax.enqueue("demo.always_fails", {"name": "c"})
    drain()
    rollup_fold(settle_seconds=0, using="default")  # what the manager's cycle does
    trax.enqueue("demo.greet", {"name": "later"}, delay=3600)  # queued, not due
    Metadata.objects.create(name="demo.slow", input={}, train_state=TrainState.IN_PROGRESS)
    manifest = trax.scheduler.schedule(
        "nightly<script>", "demo.greet", {"name": "n"}, trax.Every.minutes(5)
    )
    DeadLetter.objects.create(manifest=manifest, reason="retries ran out")
    now = timezone.now()
    Worker.objects.create(
        worker_id="h/1",
        host="h",
        pid=1,
        kind="scheduler",
        concurrency=4,
        started_at=now,
        last_heartbeat_at=now,
    )
    Leader.objects.create(
        name="manager",
        holder="h/1",
        token="00000000-0000-0000-0000-000000000001",
        expires_at=now + timedelta(seconds=30),
    )

    page = staff.get(URL).content.decode()

    assert metric(page, "running") == "1"
    assert metric(page, "queued") == str(WorkQueue.objects.filter(status="queued").count())
    assert metric(page, "dead-letters") == "1"
    assert metric(page, "completed-hour") == "2"
    assert metric(page, "failed-hour") == "1"
    assert metric(page, "success-rate") == "66.7 %"
    assert "demo.always_fails" in page  # failing most
    day_chart = page.split('data-chart="per-hour"')[1].split("</svg>")[0]
    assert 'class="completed"' in day_chart and ": 2 completed</title>" in day_chart
    assert "<th>p50</th><th>p95</th>" in page  # slowest trains, from the rollups' histogram
    assert "h/1 <strong>leader</strong>" in page
    assert "nightly&lt;script&gt;" in page and "nightly<script>" not in page
    assert Manifest.objects.filter(external_id="nightly<script>").exists()


def test_the_page_script_gets_the_live_part_alone(staff: Client) -> None:
    whole = staff.get(URL).content.decode()
    part = staff.get(URL, HTTP_X_TRAX_FRAGMENT="1").content.decode()

    assert "<html" in whole and 'id="live"' in whole and "live.js" in whole
    assert "<html" not in part and 'data-metric="running"' in part


def test_durations_read_in_human_units() -> None:
    from dashboard.templatetags.console import duration, percent

    assert [duration(x) for x in (None, 0.25, 7.04, 75, 3600, 5400)] == [
        "—",
        "250 ms",
        "7.0 s",
        "1 min 15 s",
        "1 h",
        "1 h 30 min",
    ]
    assert (percent(None), percent(0.9731)) == ("—", "97.3 %")


@pytest.mark.parametrize("url", [URL, reverse("dashboard:runs")])
def test_staff_without_the_view_permission_are_refused_naming_it(client: Client, url: str) -> None:
    client.force_login(operator("no-view", permissions=()))

    response = client.get(url)

    assert response.status_code == 403
    assert b"trax.view_console" in response.content


def test_the_admin_links_to_the_console_and_the_console_back(client: Client) -> None:
    client.force_login(operator())
    admin = client.get(reverse("admin:index")).content.decode()
    console = client.get(reverse("dashboard:overview")).content.decode()
    assert f'href="{reverse("dashboard:overview")}">Trax console</a>' in admin
    assert f'href="{reverse("admin:index")}">Admin</a>' in console
