"""The operator console's page at /trax/ (today: the recent runs) in a real browser: staff see
it, everyone else is sent to the admin's login form (``staff_member_required``). Also the
harness itself: daphne serving the project and its static files, the admin's login form,
trains run between browser calls, light and dark screenshots. Every other route and the
socket are refused in test_refusals.
"""

from __future__ import annotations

from typing import Any

import trax
from tests.browser.playwright_thread import expect
from trax.models import Metadata
from trax.testing import drain

HEADING = {"role": "heading", "name": "Recent runs"}


def run_row(page: Any, run: Metadata) -> Any:
    return page.get_by_role("row").filter(has_text=f"#{run.pk}")


def test_staff_see_the_recent_runs(staff_page: Any, screenshots: Any) -> None:
    trax.enqueue("demo.greet", {"name": "Ada"})
    trax.enqueue("demo.always_fails", {"name": "Bob"})
    assert sorted(drain().states.values()) == ["completed", "failed"]
    greeted = Metadata.objects.get(name="demo.greet")
    failed = Metadata.objects.get(name="demo.always_fails")

    staff_page.goto("/trax/")

    expect(staff_page.get_by_role(**HEADING)).to_be_visible()
    expect(run_row(staff_page, greeted)).to_contain_text("demo.greet")
    expect(run_row(staff_page, greeted)).to_contain_text("Completed")
    expect(run_row(staff_page, failed)).to_contain_text("demo.always_fails")
    expect(run_row(staff_page, failed)).to_contain_text("Failed")
    # The admin's styles are served (static files), so the page looks as it will in use.
    assert staff_page.request.get("/static/admin/css/base.css").status == 200

    # Between browser calls the test's thread is an ordinary one: the ORM works, and so does a
    # train with an async junction (async_to_sync), run here and now.
    trax.run("demo.greet", {"name": "Cy"})
    latest = Metadata.objects.filter(name="demo.greet").latest("pk")
    staff_page.reload()
    expect(run_row(staff_page, latest)).to_contain_text("Completed")

    light, dark, _phone = screenshots(staff_page, "dashboard-recent-runs")
    assert light.name == "dashboard-recent-runs-light.png"
    assert dark.name == "dashboard-recent-runs-dark.png"
    assert light.read_bytes() != dark.read_bytes()


def test_anonymous_is_sent_to_the_login_form_then_staff_land_on_the_page(
    page: Any, live_server_url: str, staff_user: Any, user_password: str
) -> None:
    response = page.goto("/trax/")

    assert response.request.redirected_from.response().status == 302
    expect(page).to_have_url(f"{live_server_url}/admin/login/?next=/trax/")
    expect(page.get_by_role(**HEADING)).to_have_count(0)

    page.get_by_label("Username").fill(staff_user.username)
    page.get_by_label("Password").fill(user_password)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{live_server_url}/trax/")
    expect(page.get_by_role(**HEADING)).to_be_visible()


def test_a_user_who_is_not_staff_is_refused(
    non_staff_page: Any, non_staff_user: Any, live_server_url: str
) -> None:
    response = non_staff_page.goto("/trax/")

    assert response.request.redirected_from.response().status == 302
    expect(non_staff_page).to_have_url(f"{live_server_url}/admin/login/?next=/trax/")
    expect(
        non_staff_page.get_by_text(
            f"You are authenticated as {non_staff_user.username}, "
            "but are not authorized to access this page."
        )
    ).to_be_visible()
    expect(non_staff_page.get_by_role(**HEADING)).to_have_count(0)
