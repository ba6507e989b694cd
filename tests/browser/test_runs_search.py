"""Finding a run by a field of its input and opening it to see its pipeline, in the browser
(issue 9's done-means list)."""

from __future__ import annotations

from typing import Any

import trax
from tests.browser.playwright_thread import expect
from trax.models import Metadata
from trax.testing import drain


def test_a_run_is_found_by_a_field_of_its_input(staff_page: Any, screenshots: Any) -> None:
    trax.enqueue_many("demo.greet", [{"name": "Ada"}, {"name": "Bob"}, {"name": "Cy"}])
    drain()
    bob = Metadata.objects.get(input__name="Bob")

    staff_page.goto("/trax/runs/")
    expect(staff_page.locator('[data-metric="matching"]')).to_contain_text("3 runs")
    staff_page.get_by_role("searchbox", name="Search runs").fill("input.name:Bob state:completed")
    staff_page.get_by_role("button", name="Search").click()

    expect(staff_page.locator('[data-metric="matching"]')).to_contain_text("1 run")
    rows = staff_page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"#{bob.pk}")
    screenshots(staff_page, "runs")

    rows.first.get_by_role("link", name=f"#{bob.pk}").click()
    expect(staff_page.locator(".pipeline .step.completed")).to_have_count(3)
    expect(staff_page.locator(".pipeline .step").first).to_contain_text("ComposeGreeting")
    screenshots(staff_page, "run")
    staff_page.goto("/trax/runs/")

    staff_page.get_by_role("searchbox", name="Search runs").fill("colour:red")
    staff_page.get_by_role("button", name="Search").click()
    expect(staff_page.get_by_role("alert")).to_contain_text("unknown search field 'colour'")
