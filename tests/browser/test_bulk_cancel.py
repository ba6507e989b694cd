"""Cancelling every run a search matches, from the runs page: asked with the count, confirmed,
its progress shown live until done; the other runs are left alone (issue 9's done-means list)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission

from tests.browser.playwright_thread import expect
from trax.models import Audit, Metadata, TrainState


def test_every_run_matching_a_search_is_cancelled_in_bulk(
    staff_page: Any, staff_user: Any, screenshots: Any
) -> None:
    staff_user.user_permissions.add(Permission.objects.get(codename="cancel_run"))
    doomed = [Metadata.objects.create(name="demo.slow", input={"steps": i}) for i in range(12)]
    spared = [Metadata.objects.create(name="demo.greet", input={"name": "x"}) for _ in range(3)]

    staff_page.goto("/trax/runs/")
    staff_page.get_by_role("searchbox", name="Search runs").fill("train:demo.slow state:pending")
    staff_page.get_by_role("button", name="Search").click()
    expect(staff_page.locator('[data-metric="matching"]')).to_contain_text("12 runs")

    staff_page.get_by_role("button", name="Cancel all matching").click()
    expect(staff_page.locator('[data-metric="bulk-count"]')).to_have_text("12")
    staff_page.get_by_role("button", name="Cancel 12").click()

    expect(staff_page.locator("[data-state]")).to_have_attribute("data-state", "done")
    expect(staff_page.locator('[data-metric="bulk-progress"]')).to_have_text(
        "12 of 12 matched, 12 changed."
    )
    screenshots(staff_page, "bulk")

    assert {run.train_state for run in Metadata.objects.filter(pk__in=[r.pk for r in doomed])} == {
        TrainState.CANCELLED
    }
    assert {run.train_state for run in Metadata.objects.filter(pk__in=[r.pk for r in spared])} == {
        TrainState.PENDING
    }
    audit = Audit.objects.get(action="runs.cancel")
    assert audit.actor == "operator" and audit.detail["changed"] == 12
