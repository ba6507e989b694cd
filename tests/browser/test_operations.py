"""The operations pages in the browser: retry a dead letter and see its new run appear, live;
acknowledge one with a note; cancel a queued entry; the processes with their leader and a stale
one; the audit trail of what was done. Anonymous and non-staff visitors are sent to log in.
Screenshots: dead-letters, queue, processes, audit."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Permission
from django.utils import timezone

import trax
from tests.browser.playwright_thread import expect
from trax.models import DeadLetter, Leader, Metadata, Worker, WorkQueue
from trax.testing import drain

PAGES = ("/trax/dead-letters/", "/trax/queue/", "/trax/processes/", "/trax/audit/")


def grant(user: Any, *codenames: str) -> None:
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


def dead_letter(name: str, failures: int = 3) -> DeadLetter:
    manifest = trax.scheduler.schedule(
        name, "demo.greet", {"name": name}, trax.Every.hours(1), group="reports"
    )
    trax.scheduler.disable(name)  # only the retry queues it
    runs = [
        Metadata.objects.create(
            name="demo.greet",
            manifest=manifest,
            train_state="failed",
            attempt=attempt,
            end_time=timezone.now() - timedelta(minutes=10 - attempt),
            failure_exception="ConnectionError",
            failure_reason="the report server refused the connection",
        )
        for attempt in range(1, failures + 1)
    ]
    return DeadLetter.objects.create(
        manifest=manifest,
        last_failed_run=runs[-1],
        reason=f"{failures} failures in a row",
        retry_count=failures - 1,
    )


def test_retry_a_dead_letter_and_see_its_run_then_acknowledge_one_with_a_note(
    staff_user: Any, staff_page: Any, screenshots: Any
) -> None:
    grant(staff_user, "resolve_dead_letter")
    nightly = dead_letter("nightly-report")
    weekly = dead_letter("weekly-digest", failures=2)
    page = staff_page
    page.goto("/trax/dead-letters/")
    expect(page.locator("#live-state.on")).to_have_count(1)
    row = page.locator(f'tr[data-letter="{nightly.pk}"]')
    expect(row).to_contain_text("awaiting")
    expect(row).to_contain_text("ConnectionError")
    row.get_by_text("3 failed attempts").click()
    expect(row.locator("ol.attempts li")).to_have_count(3)
    screenshots(page, "dead-letters")

    row.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("Retried 1 dead letter")
    expect(row).to_contain_text("retried")
    entry = WorkQueue.objects.get(dead_letter=nightly)
    drain()
    run = Metadata.objects.get(pk=WorkQueue.objects.get(pk=entry.pk).metadata_id)
    expect(row.get_by_role("link", name=f"#{run.pk}").last).to_be_visible(timeout=10_000)
    expect(row).to_contain_text("retry run")  # live, without a reload

    other = page.locator(f'tr[data-letter="{weekly.pk}"]')
    other.get_by_label(f"Note for dead letter {weekly.pk}").fill("report retired; nothing to redo")
    other.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("Acknowledged 1 dead letter")
    expect(other).to_contain_text("report retired; nothing to redo")
    assert DeadLetter.objects.get(pk=weekly.pk).status == "acknowledged"

    page.goto("/trax/audit/")
    expect(page.locator("tr[data-audit]").first).to_contain_text("dead_letters.acknowledge")
    expect(page.locator("tbody")).to_contain_text("dead_letters.retry")
    screenshots(page, "audit")


def test_cancel_a_queued_entry(staff_user: Any, staff_page: Any, screenshots: Any) -> None:
    grant(staff_user, "cancel_run")
    kept = WorkQueue.objects.create(train_name="demo.greet", input={"name": "kept"}, priority=3)
    doomed = WorkQueue.objects.create(
        train_name="demo.slow", scheduled_at=timezone.now() + timedelta(minutes=30)
    )
    page = staff_page
    page.goto("/trax/queue/")
    expect(page.locator("#live-state.on")).to_have_count(1)
    expect(page.locator("tr[data-entry]")).to_have_count(2)
    screenshots(page, "queue")

    page.locator(f'tr[data-entry="{doomed.pk}"]').get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("status")).to_contain_text("Cancelled 1 queued entry")
    expect(page.locator("tr[data-entry]")).to_have_count(1)
    assert WorkQueue.objects.get(pk=doomed.pk).status == "cancelled"
    assert WorkQueue.objects.get(pk=kept.pk).status == "queued"


def test_the_processes_page(staff_page: Any, screenshots: Any) -> None:
    now = timezone.now()
    for worker_id, kind, silent, slots, busy in (
        ("scheduler-ops-1", "scheduler", 2, 0, 0),
        ("worker-ops-1", "worker", 3, 8, 5),
        ("worker-ops-2", "worker", 600, 8, 2),
    ):
        Worker.objects.create(
            worker_id=worker_id,
            host="ops-1",
            pid=4000 + len(worker_id),
            kind=kind,
            concurrency=slots,
            runs_in_flight=busy,
            started_at=now - timedelta(hours=2),
            last_heartbeat_at=now - timedelta(seconds=silent),
        )
    Leader.objects.create(
        name="manager",
        holder="scheduler-ops-1",
        token=uuid.uuid4(),
        expires_at=now + timedelta(seconds=25),
    )
    staff_page.goto("/trax/processes/")
    expect(staff_page.locator('tr[data-process="scheduler-ops-1"]')).to_contain_text("leader")
    expect(staff_page.locator('tr[data-process="worker-ops-2"]')).to_contain_text("stale")
    expect(staff_page.locator('[data-metric="in-flight"]')).to_have_text("5")
    screenshots(staff_page, "processes")


def test_anonymous_and_non_staff_visitors_are_sent_to_log_in(
    page: Any, non_staff_page: Any
) -> None:
    for visitor in (page, non_staff_page):
        for url in PAGES:
            visitor.goto(url)
            expect(visitor).to_have_url(re.compile(r"/admin/login/\?next="))
