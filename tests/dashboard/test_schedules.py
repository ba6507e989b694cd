"""The Schedules pages: each manifest's schedule in words and how it fared, the filter, the
actions on one or ticked manifests (each refused without its permission, audited once, bad
input changing nothing), the edit form on the Python API's validation, the dependency graph."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import trax
from dashboard.bulk.actions import bulk_action, page_actions
from tests.dashboard.users import operator
from trax.models import (
    Audit,
    DeadLetter,
    Manifest,
    Metadata,
    TrainState,
    WorkQueue,
    WorkQueueStatus,
)

pytestmark = pytest.mark.django_db

MANAGER = ("view_console", "manage_schedules")


def schedule(name: str, every: Any = None, **options: Any) -> Manifest:
    return trax.scheduler.schedule(
        name, "demo.greet", {"name": name}, every or trax.Every.minutes(10), **options
    )


def ran(manifest: Manifest, state: str, *, ago: int = 60) -> Metadata:
    end = timezone.now() - timedelta(seconds=ago)
    return Metadata.objects.create(
        name=manifest.train_name,
        manifest=manifest,
        train_state=state,
        start_time=end - timedelta(seconds=1),
        end_time=end if state not in ("pending", "in_progress") else None,
    )


def as_user(client: Client, *permissions: str) -> Client:
    client.force_login(operator("ops", permissions=permissions or ("view_console",)))
    return client


def listing(client: Client, q: str = "", status: int = 200) -> str:
    response = client.get(reverse("dashboard:schedules"), {"q": q})
    assert response.status_code == status, response.content[:500]
    return response.content.decode()


def rows(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('data-schedule="')[1:]]


def nothing_written(before: int) -> None:
    assert Audit.objects.count() == before
    assert not WorkQueue.objects.filter(is_explicit_trigger=True).exists()


# ── the list ─────────────────────────────────────────────────────────────────────────────────


def test_each_schedule_in_words_with_next_due_last_run_streak_block_and_group(
    client: Client,
) -> None:
    nightly = trax.scheduler.schedule(
        "nightly", "demo.greet", {"name": "n"}, trax.Cron.daily(hour=3), timezone="Europe/Paris"
    )
    flaky = schedule("flaky", group="billing")
    trax.scheduler.schedule_dependent("after-flaky", "demo.greet", {"name": "a"}, "flaky")
    ran(flaky, TrainState.COMPLETED, ago=300)
    ran(flaky, TrainState.FAILED, ago=120)
    last = ran(flaky, TrainState.FAILED, ago=60)
    DeadLetter.objects.create(manifest=nightly, reason="boom")

    html = listing(as_user(client))

    assert rows(html) == ["after-flaky", "flaky", "nightly"]
    assert "at 03:00 Europe/Paris every day" in html
    assert "every 10 minutes" in html and "after flaky succeeds" in html
    assert f'href="/trax/runs/{last.pk}/">#{last.pk}</a> <span class="failed">Failed' in html
    assert "2 failures" in html
    assert "blocked by a dead letter" in html
    assert "billing" in html
    assert "<time datetime=" in html  # next due, relative with the absolute time on hover


def test_names_are_escaped(client: Client) -> None:
    schedule("<b>bold</b>")
    html = listing(as_user(client))
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("", ["a-etl", "b-etl-off", "c-mail", "d-failing"]),
        ("etl", ["a-etl", "b-etl-off"]),
        ("group:etl", ["a-etl", "b-etl-off"]),
        ("enabled:no", ["b-etl-off"]),
        ("enabled:yes group:etl", ["a-etl"]),
        ("blocked:yes", ["c-mail"]),
        ("blocked:no", ["a-etl", "b-etl-off", "d-failing"]),
        ("outcome:failed", ["d-failing"]),
        ("outcome:none", ["a-etl", "b-etl-off", "c-mail"]),
        ("type:interval train:demo.greet mail", ["c-mail"]),
    ],
)
def test_the_filter(client: Client, q: str, expected: list[str]) -> None:
    schedule("a-etl", group="etl")
    trax.scheduler.disable(schedule("b-etl-off", group="etl").external_id)
    DeadLetter.objects.create(manifest=schedule("c-mail"), reason="x")
    ran(schedule("d-failing"), TrainState.FAILED)

    assert rows(listing(as_user(client), q)) == expected


@pytest.mark.parametrize(
    ("q", "named"),
    [
        ("colour:red", "unknown filter field &#x27;colour&#x27;"),
        ("enabled:maybe", "enabled:maybe"),
        ("outcome:great", "outcome:great is not an outcome"),
        ('"unclosed', "unclosed quote"),
        ("<script>x:1", "&lt;script&gt;"),
    ],
)
def test_a_filter_it_cannot_read_is_an_error_naming_it_and_lists_nothing(
    client: Client, q: str, named: str
) -> None:
    schedule("listed")
    html = listing(as_user(client), q, status=400)
    assert named in html and 'role="alert"' in html
    assert rows(html) == [] and "<script>" not in html
    assert "all matching" not in html  # nothing to act on


def test_pages_follow_by_name(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dashboard.schedules.listing.PAGE_SIZE", 2)
    for name in ("a", "b", "c"):
        schedule(name)
    viewer = as_user(client)
    first = listing(viewer)
    assert rows(first) == ["a", "b"] and "after=b" in first
    response = viewer.get(reverse("dashboard:schedules"), {"after": "b"})
    assert rows(response.content.decode()) == ["c"]


def test_the_live_part_alone_on_the_page_scripts_request(client: Client) -> None:
    schedule("x")
    response = as_user(client).get(reverse("dashboard:schedules"), HTTP_X_TRAX_FRAGMENT="1")
    html = response.content.decode()
    assert 'data-schedule="x"' in html and "<html" not in html


# ── who may see and act ──────────────────────────────────────────────────────────────────────


def test_anonymous_and_non_staff_are_sent_to_log_in_and_staff_need_the_view_permission(
    client: Client, django_user_model: Any
) -> None:
    manifest = schedule("x")
    urls = [
        reverse("dashboard:schedules"),
        reverse("dashboard:schedule", args=[manifest.pk]),
        reverse("dashboard:schedules_graph"),
    ]
    for url in urls:
        assert client.get(url).status_code == 302
    client.force_login(django_user_model.objects.create_user("visitor", password="x"))
    for url in urls:
        assert client.get(url).status_code == 302
    client.force_login(operator("staff-only", permissions=()))
    for url in urls:
        assert client.get(url).status_code == 403


ACTIONS = [("trigger", "manage_schedules"), ("enable", "manage_schedules"),
           ("disable", "manage_schedules"), ("cancel", "cancel_run")]  # fmt: skip


@pytest.mark.parametrize(("action", "permission"), ACTIONS)
def test_every_action_is_refused_without_its_permission_and_on_get(
    client: Client, action: str, permission: str
) -> None:
    manifest = schedule("x")
    one = reverse("dashboard:schedule_act", args=[manifest.pk, action])
    selected = reverse("dashboard:schedules_act")
    audits = Audit.objects.count()

    assert client.post(one).status_code == 302  # anonymous: to the login form
    other = "manage_schedules" if permission == "cancel_run" else "cancel_run"
    viewer = as_user(client, "view_console", other)
    for response in (
        viewer.post(one),
        viewer.post(selected, {"action": action, "ids": [manifest.pk]}),
    ):
        assert response.status_code == 403
        assert f"trax.{permission}".encode() in response.content
    assert viewer.get(one).status_code == 405
    assert viewer.get(selected).status_code == 405
    nothing_written(audits)
    assert Manifest.objects.get(pk=manifest.pk).is_enabled


# ── the actions ──────────────────────────────────────────────────────────────────────────────


def test_trigger_one_queues_a_run_now_and_is_audited(client: Client) -> None:
    manifest = schedule("x")
    url = reverse("dashboard:schedule_act", args=[manifest.pk, "trigger"])

    response = as_user(client, *MANAGER).post(url, follow=True)

    assert response.status_code == 200
    assert "Triggered 1 schedule" in response.content.decode()
    assert WorkQueue.objects.filter(
        manifest=manifest, status=WorkQueueStatus.QUEUED, is_explicit_trigger=True
    ).exists()
    audit = Audit.objects.get(action="schedules.trigger")
    assert (audit.actor, audit.target) == ("ops", f"manifest:{manifest.pk}")
    assert audit.detail["count"] == 1


def test_disable_then_enable_the_ticked_ones_with_one_audit_row_each(client: Client) -> None:
    a, b, c = schedule("a"), schedule("b"), schedule("c")
    trax.scheduler.disable("c")
    Audit.objects.all().delete()
    url = reverse("dashboard:schedules_act")
    viewer = as_user(client, *MANAGER)

    done = viewer.post(url, {"action": "disable", "ids": [a.pk, b.pk, c.pk]}, follow=True)

    assert "Disabled 2 of 3 schedules (1 already disabled)" in done.content.decode()
    assert not Manifest.objects.filter(is_enabled=True).exists()
    assert Manifest.objects.get(pk=a.pk).is_enabled_overridden
    audit = Audit.objects.get()
    assert (audit.action, audit.target) == ("schedules.disable", "manifests")
    assert audit.detail == {"ids": [a.pk, b.pk, c.pk], "count": 2, "from": "console"}

    viewer.post(url, {"action": "enable", "ids": [a.pk]})
    assert list(Manifest.objects.filter(is_enabled=True).values_list("external_id", flat=True)) == [
        "a"
    ]
    assert Audit.objects.count() == 2


def test_cancel_running_stops_every_active_run_of_the_schedule(client: Client) -> None:
    manifest = schedule("x")
    running = ran(manifest, TrainState.PENDING)
    done = ran(manifest, TrainState.COMPLETED)
    url = reverse("dashboard:schedule_act", args=[manifest.pk, "cancel"])

    response = as_user(client, "view_console", "cancel_run").post(url, follow=True)

    assert "Cancelled 1 running run of 1 schedule" in response.content.decode()
    assert Metadata.objects.get(pk=running.pk).train_state == TrainState.CANCELLED
    assert Metadata.objects.get(pk=done.pk).train_state == TrainState.COMPLETED
    assert Audit.objects.get(action="schedules.cancel").detail["count"] == 1


def test_it_goes_back_to_the_page_it_came_from_but_never_off_site(client: Client) -> None:
    manifest = schedule("x")
    url = reverse("dashboard:schedule_act", args=[manifest.pk, "trigger"])
    viewer = as_user(client, *MANAGER)
    back = reverse("dashboard:schedule", args=[manifest.pk])
    assert viewer.post(url, {"next": back})["Location"] == back
    assert viewer.post(url, {"next": "https://evil.example/"})["Location"] == reverse(
        "dashboard:schedules"
    )


@pytest.mark.parametrize(
    ("data", "status", "named"),
    [
        ({"action": "explode", "ids": ["1"]}, 400, "no schedule action &#x27;explode&#x27;"),
        ({"action": "trigger"}, 400, "No schedule was ticked"),
        (
            {"action": "trigger", "ids": ["1", "x<b>"]},
            400,
            "Not a schedule id: &#x27;x&lt;b&gt;&#x27;",
        ),
        ({"action": "trigger", "ids": ["999999"]}, 404, "No schedule has the id(s) 999999"),
    ],
)
def test_bad_input_is_named_and_writes_nothing(
    client: Client, data: dict[str, Any], status: int, named: str
) -> None:
    manifest = schedule("x")
    data = {**data, "ids": [str(manifest.pk) if i == "1" else i for i in data.get("ids", [])]}
    audits = Audit.objects.count()

    response = as_user(client, *MANAGER).post(reverse("dashboard:schedules_act"), data)

    assert response.status_code == status
    assert named in response.content.decode()
    nothing_written(audits)


def test_an_unknown_schedule_or_action_on_one_is_refused(client: Client) -> None:
    viewer = as_user(client, *MANAGER)
    assert (
        viewer.post(reverse("dashboard:schedule_act", args=[999999, "trigger"])).status_code == 404
    )
    manifest = schedule("x")
    assert (
        viewer.post(reverse("dashboard:schedule_act", args=[manifest.pk, "nope"])).status_code
        == 400
    )
    assert viewer.get(reverse("dashboard:schedule", args=[999999])).status_code == 404
    nothing_written(1)  # the schedule's own creation


def test_the_actions_are_offered_on_all_matching(client: Client) -> None:
    assert [a.name for a in page_actions("schedules")] == ["trigger", "enable", "disable", "cancel"]
    assert bulk_action("schedules", "cancel").permission == "trax.cancel_run"
    schedule("a", group="etl")
    schedule("b")
    matching = bulk_action("schedules", "disable").matching("group:etl")
    assert [m.external_id for m in matching] == ["a"]
    with pytest.raises(ValueError, match="colour"):
        bulk_action("schedules", "disable").matching("colour:red")
    ids = list(matching.values_list("id", flat=True))
    audits = Audit.objects.count()
    assert bulk_action("schedules", "disable").apply(ids, "runner", {}) == 1
    assert bulk_action("schedules", "trigger").apply(ids, "runner", {}) == 1
    assert Audit.objects.count() == audits  # the runner writes its own row

    html = listing(as_user(client, *MANAGER))
    assert "Disable all matching" in html and "Trigger now all matching" in html


# ── a schedule's page and its edit form ──────────────────────────────────────────────────────


def form_data(manifest: Manifest, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schedule_type": manifest.schedule_type,
        "interval_seconds": manifest.interval_seconds or "",
        "cron_expression": manifest.cron_expression,
        "timezone": manifest.timezone,
        "run_at": "",
        "depends_on": manifest.depends_on.external_id if manifest.depends_on_id else "",
        "group": manifest.group_id,
        "input": '{"name": "x"}',
        "priority": manifest.priority,
        "is_enabled": "on" if manifest.is_enabled else "",
        "max_retries": manifest.max_retries,
        "retry_delay_seconds": manifest.retry_delay_seconds or "",
        "timeout_seconds": manifest.timeout_seconds or "",
        "misfire_policy": manifest.misfire_policy,
        "misfire_threshold_seconds": manifest.misfire_threshold_seconds or "",
        "variance_seconds": manifest.variance_seconds or "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != "" or key == "cron_expression"}


def test_the_schedule_page_shows_it_with_its_runs_and_what_blocks_it(client: Client) -> None:
    parent = schedule("parent")
    child = trax.scheduler.schedule_dependent("child", "demo.greet", {"name": "c"}, "parent")
    failed = ran(parent, TrainState.FAILED)
    letter = DeadLetter.objects.create(manifest=parent, reason="it <broke>")

    viewer = as_user(client)
    html = viewer.get(reverse("dashboard:schedule", args=[parent.pk])).content.decode()

    assert "every 10 minutes" in html
    assert f"dead letter #{letter.pk} awaits a person" in html and "it &lt;broke&gt;" in html
    assert f'href="/trax/runs/{failed.pk}/"' in html
    assert f'href="/trax/schedules/{child.pk}/">child</a>' in html
    assert "Edit schedule and options" in html
    child_page = viewer.get(reverse("dashboard:schedule", args=[child.pk]))
    assert "after parent succeeds" in child_page.content.decode()


def test_an_edit_saves_moves_the_next_run_and_is_audited_before_and_after(client: Client) -> None:
    manifest = schedule("x")
    url = reverse("dashboard:schedule_edit", args=[manifest.pk])

    response = as_user(client, *MANAGER).post(
        url,
        form_data(
            manifest,
            schedule_type="cron",
            cron_expression="30 3 * * *",
            timezone="Europe/Paris",
            priority=7,
        ),
        follow=True,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Saved x" in html and "at 03:30 Europe/Paris every day" in html
    saved = Manifest.objects.get(pk=manifest.pk)
    assert (saved.schedule_type, saved.cron_expression, saved.priority) == (
        "cron", "0 30 3 * * *", 7,
    )  # fmt: skip
    assert saved.next_run_at != manifest.next_run_at
    audit = Audit.objects.get(action="schedules.edit")
    assert audit.actor == "ops" and audit.target == f"manifest:{manifest.pk}"
    assert audit.detail["before"]["priority"] == 0 and audit.detail["after"]["priority"] == 7
    assert audit.detail["after"]["cron_expression"] == "0 30 3 * * *"


def test_switching_it_off_in_the_form_sticks_through_start_up_syncs(client: Client) -> None:
    manifest = schedule("x")
    as_user(client, *MANAGER).post(
        reverse("dashboard:schedule_edit", args=[manifest.pk]), form_data(manifest, is_enabled="")
    )
    saved = Manifest.objects.get(pk=manifest.pk)
    assert not saved.is_enabled and saved.is_enabled_overridden


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"schedule_type": "cron", "cron_expression": "61 * * * *"}, "Cron expression:"),
        ({"schedule_type": "cron", "cron_expression": "every tuesday"}, "Cron expression:"),
        ({"priority": 32}, "Priority must be between 0 and 31"),
        ({"max_retries": -1}, "Max retries:"),
        ({"input": "{not json"}, "Input: Enter a valid JSON"),
        ({"input": '{"nom": 1}'}, "Input:"),
        ({"timezone": "Mars/Olympus"}, "Timezone:"),
        ({"interval_seconds": ""}, "Interval seconds:"),
        ({"schedule_type": "dependent", "depends_on": "nobody"}, "No manifest is named nobody"),
        ({"group": 999999}, "Group:"),
        ({"timeout_seconds": 0}, "A timeout must be above 0 seconds"),
        ({"interval_seconds": 0}, "interval above 0 seconds"),
        ({"schedule_type": "dependent", "depends_on": "y"}, "dependency cycle between manifests"),
    ],
)
def test_a_bad_edit_names_the_field_and_saves_nothing(
    client: Client, changes: dict[str, Any], named: str
) -> None:
    manifest = schedule("x")
    trax.scheduler.schedule_dependent("y", "demo.greet", {"name": "y"}, "x")
    before = Manifest.objects.filter(pk=manifest.pk).values().get()
    audits = Audit.objects.count()

    response = as_user(client, *MANAGER).post(
        reverse("dashboard:schedule_edit", args=[manifest.pk]), form_data(manifest, **changes)
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing saved." in html and named in html
    assert 'class="field-error"' in html
    assert Manifest.objects.filter(pk=manifest.pk).values().get() == before
    assert Audit.objects.count() == audits


def test_editing_is_refused_without_its_permission_and_on_get(client: Client) -> None:
    manifest = schedule("x")
    url = reverse("dashboard:schedule_edit", args=[manifest.pk])
    data = form_data(manifest, priority=9)
    assert client.post(url, data).status_code == 302
    viewer = as_user(client, "view_console", "cancel_run")
    refused = viewer.post(url, data)
    assert refused.status_code == 403 and b"trax.manage_schedules" in refused.content
    assert viewer.get(url).status_code == 405
    assert Manifest.objects.get(pk=manifest.pk).priority == 0
    assert not Audit.objects.filter(action="schedules.edit").exists()


def test_an_edit_that_changes_nothing_writes_nothing(client: Client) -> None:
    manifest = schedule("x")
    response = as_user(client, *MANAGER).post(
        reverse("dashboard:schedule_edit", args=[manifest.pk]), form_data(manifest), follow=True
    )
    assert "Nothing changed in x" in response.content.decode()
    assert not Audit.objects.filter(action="schedules.edit").exists()


# ── the dependency graph ─────────────────────────────────────────────────────────────────────


def test_the_graph_draws_linked_schedules_and_groups(client: Client) -> None:
    extract = schedule("extract", group="etl")
    load = trax.scheduler.schedule_dependent(
        "load", "demo.greet", {"name": "l"}, "extract", group="warehouse"
    )
    notify = trax.scheduler.schedule_dependent(
        "notify", "demo.greet", {"name": "n"}, "load", dormant=True
    )
    schedule("alone")
    ran(extract, TrainState.FAILED)

    html = as_user(client).get(reverse("dashboard:schedules_graph")).content.decode()

    assert html.count("<svg") == 2
    assert f'href="/trax/schedules/{load.pk}/"' in html
    assert f'class="node failed" data-node="{extract.pk}"' in html
    assert 'class="edge dormant"' in html and f'data-node="{notify.pk}"' in html
    # it runs after nothing and nothing runs after it, and its group (its own) waits on none
    assert "alone" not in html
    assert ">warehouse<" in html and ">etl<" in html


def test_a_schedule_pages_live_part_leaves_the_edit_form_alone(client: Client) -> None:
    manifest = schedule("x")
    viewer = as_user(client)
    for url in (
        reverse("dashboard:schedule", args=[manifest.pk]),
        reverse("dashboard:schedules_graph"),
    ):
        html = viewer.get(url, HTTP_X_TRAX_FRAGMENT="1").content.decode()
        assert "<html" not in html and "Edit schedule and options" not in html
    whole = viewer.get(reverse("dashboard:schedule", args=[manifest.pk])).content.decode()
    # it refreshes when runs, schedules, dead letters or the queue change
    assert 'data-live-topics="runs schedules dead_letters queue"' in whole
    assert whole.index("Edit schedule and options") < whole.index('<main id="live"')


def test_all_matching_runs_through_the_bulk_runner_with_one_audit_row() -> None:
    from dashboard.bulk.runner import run_bulk
    from trax.store import bulk_operation_start

    for name in ("a", "b", "c"):
        schedule(name, group="etl")
    schedule("other")
    operation = bulk_operation_start(
        actor="ops", page="schedules", action="disable", query="group:etl enabled:yes",
        params={}, using="default",
    )  # fmt: skip
    audits = Audit.objects.count()

    run_bulk(operation.pk)

    enabled = Manifest.objects.filter(is_enabled=True).values_list("external_id", flat=True)
    assert list(enabled) == ["other"]
    assert Audit.objects.count() == audits + 1
    assert Audit.objects.latest("id").detail["changed"] == 3


def test_the_list_costs_the_same_queries_however_many_schedules(client: Client) -> None:
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from trax.store import run_records_alias

    viewer = as_user(client)

    def queries() -> int:
        with CaptureQueriesContext(connections[run_records_alias()]) as captured:
            listing(viewer)
        return len(captured)

    parent = schedule("p0")
    ran(parent, TrainState.FAILED)
    few = queries()
    for n in range(1, 12):
        manifest = trax.scheduler.schedule_dependent(f"p{n}", "demo.greet", {"name": "x"}, "p0")
        ran(manifest, TrainState.COMPLETED)
        DeadLetter.objects.create(manifest=manifest, reason="x")
    assert queries() == few
