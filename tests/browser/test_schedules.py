"""The Schedules and Groups pages in the browser: disable then enable a schedule from the page,
trigger one and see its run appear, an edit with a bad cron refused naming the field; anonymous
and non-staff visitors are sent to log in. Screenshots: schedules, schedule, schedules-graph,
groups."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import Permission
from django.utils import timezone

import trax
from tests.browser.playwright_thread import expect
from trax.models import DeadLetter, Manifest, Metadata, WorkQueue
from trax.testing import drain


def declare() -> Manifest:
    nightly = trax.scheduler.schedule(
        "nightly-report",
        "demo.greet",
        {"name": "night"},
        trax.Cron.daily(hour=3),
        timezone="Europe/Paris",
        group="reports",
    )
    sync = trax.scheduler.schedule(
        "orders-sync", "demo.greet", {"name": "orders"}, trax.Every.minutes(10), group="shop"
    )
    trax.scheduler.schedule_dependent(
        "orders-report", "demo.greet", {"name": "r"}, "orders-sync", group="reports"
    )
    trax.scheduler.schedule_dependent(
        "orders-notify", "demo.greet", {"name": "n"}, "orders-report", dormant=True, group="alerts"
    )
    failed = Metadata.objects.create(
        name="demo.greet", manifest=nightly, train_state="failed", end_time=timezone.now()
    )
    DeadLetter.objects.create(manifest=nightly, reason="boom", last_failed_run=failed)
    return sync


def manager(user: Any) -> None:
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["manage_schedules", "cancel_run"])
    )


def test_disable_enable_and_trigger_a_schedule_and_see_its_run_appear(
    staff_user: Any, staff_page: Any, screenshots: Any
) -> None:
    manager(staff_user)
    sync = declare()
    page = staff_page
    page.goto("/trax/schedules/")
    expect(page.locator("#live-state.on")).to_have_count(1)
    row = page.locator('tr[data-schedule="orders-sync"]')
    expect(row).to_contain_text("every 10 minutes")
    nightly = page.locator('tr[data-schedule="nightly-report"]')
    expect(nightly).to_contain_text("at 03:00 Europe/Paris every day")
    expect(nightly).to_contain_text("blocked by a dead letter")
    expect(nightly.locator("span.failed").first).to_have_text("Failed")
    expect(page.locator('tr[data-schedule="orders-report"]')).to_contain_text(
        "after orders-sync succeeds"
    )
    screenshots(page, "schedules")

    row.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("Disabled 1 of 1 schedule")
    expect(row.locator("td").nth(8)).to_have_text("no")
    assert not Manifest.objects.get(pk=sync.pk).is_enabled
    row.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status")).to_contain_text("Enabled 1 of 1 schedule")
    expect(row.locator("td").nth(8)).to_have_text("yes")
    assert Manifest.objects.get(pk=sync.pk).is_enabled

    row.get_by_role("button", name="Trigger").click()
    expect(page.get_by_role("status")).to_contain_text("Triggered 1 schedule")
    assert WorkQueue.objects.filter(manifest=sync, is_explicit_trigger=True).exists()
    drain()
    run = Metadata.objects.filter(manifest=sync).latest("id")
    expect(row).to_contain_text(f"#{run.pk}", timeout=10_000)  # live, without a reload
    expect(row.get_by_role("link", name=f"#{run.pk}")).to_be_visible()
    row.get_by_role("link", name="orders-sync").click()
    expect(page.get_by_role("link", name=f"#{run.pk}")).to_be_visible()
    screenshots(page, "schedule")

    page.goto("/trax/schedules/graph/")
    expect(page.locator("svg.graph")).to_have_count(2)
    expect(page.locator("svg.graph a.node")).to_have_count(3 + 3)
    screenshots(page, "schedules-graph")


def test_an_edit_with_a_bad_cron_is_refused_naming_the_field(
    staff_user: Any, staff_page: Any, screenshots: Any
) -> None:
    manager(staff_user)
    sync = declare()
    page = staff_page
    page.goto(f"/trax/schedules/{sync.pk}/")
    expect(page.locator(".run-title")).to_contain_text("orders-sync")

    page.get_by_text("Edit schedule and options").click()
    page.get_by_label("Schedule type").select_option("cron")
    page.get_by_label("Cron expression").fill("61 * * * *")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".field.invalid .field-error")).to_contain_text("61")
    expect(page.get_by_role("status")).to_contain_text("Nothing saved. Cron expression:")
    saved = Manifest.objects.get(pk=sync.pk)
    assert (saved.schedule_type, saved.cron_expression) == ("interval", "")

    page.get_by_label("Cron expression").fill("30 3 * * 1-5")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved orders-sync")
    expect(page.locator("main .legend").first).to_contain_text("at 03:30 UTC on weekdays")


def test_the_groups_page(staff_user: Any, staff_page: Any, screenshots: Any) -> None:
    manager(staff_user)
    declare()
    staff_page.goto("/trax/groups/")
    shop = staff_page.locator('tr[data-group="shop"]')
    expect(shop).to_contain_text("orders-sync")
    expect(shop).to_contain_text("1 of 1 enabled")
    screenshots(staff_page, "groups")
    shop.get_by_role("button", name="Trigger all").click()
    expect(staff_page.get_by_role("status")).to_contain_text("Group shop: 1 schedule queued")


def test_anonymous_and_non_staff_visitors_are_sent_to_log_in(
    page: Any, non_staff_page: Any
) -> None:
    for visitor in (page, non_staff_page):
        for url in ("/trax/schedules/", "/trax/schedules/graph/", "/trax/groups/"):
            visitor.goto(url)
            expect(visitor).to_have_url(re.compile(r"/admin/login/\?next="))
