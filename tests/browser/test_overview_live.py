"""The overview updates itself: a run finished by another process appears on an open page
within a few seconds, without a reload, through the live socket; a socket opened without a
staff session is refused."""

from __future__ import annotations

from typing import Any

import trax
from tests.browser.playwright_thread import expect
from trax.models import Metadata
from trax.testing import drain

#: The close code of a socket to /trax/live/, or "still open" after 3 s.
OPEN_SOCKET = """url => new Promise(resolve => {
    const socket = new WebSocket(url.replace(/^http/, "ws") + "/trax/live/");
    socket.onclose = event => resolve(event.code);
    setTimeout(() => resolve("still open"), 3000);
})"""


def test_a_run_finished_elsewhere_appears_on_the_open_overview(
    staff_page: Any, screenshots: Any
) -> None:
    staff_page.goto("/trax/")
    expect(staff_page.locator("#live-state.on")).to_have_count(1)  # the socket is open
    expect(staff_page.get_by_text("No runs yet. Try")).to_be_visible()

    trax.enqueue("demo.greet", {"name": "Live"})
    drain()
    run = Metadata.objects.get(name="demo.greet")

    row = staff_page.get_by_role("row").filter(has_text=f"#{run.pk}")
    expect(row).to_contain_text("Completed", timeout=10_000)
    expect(staff_page.locator('[data-metric="queued"]')).to_have_text("0")
    screenshots(staff_page, "overview")


def test_a_socket_without_a_staff_session_is_refused(
    page: Any, non_staff_page: Any, live_server_url: str
) -> None:
    page.goto("/admin/login/")
    assert page.evaluate(OPEN_SOCKET, live_server_url) == 4403
    non_staff_page.goto("/admin/login/")
    assert non_staff_page.evaluate(OPEN_SOCKET, live_server_url) == 4403
