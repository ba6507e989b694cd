"""Every console route and the live socket, tried in the browser by those who may not use
them: anonymous visitors and non-staff users go to the admin's login form, staff without
``trax.view_console`` get a 403, and the socket closes with 4403 before sending anything.

The routes come from the URL resolver, so a page added later is covered without a change
here."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.browser.playwright_thread import expect

# What a route's converter stands for when the route is tried: an id no row has.
_SAMPLES = {"int": "999999", "str": "nobody", "slug": "nobody", "path": "nobody/x"}


def _walk(patterns: list[Any], prefix: str, namespace: str | None) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for entry in patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _walk(entry.url_patterns, prefix + route, entry.namespace or namespace)
        elif isinstance(entry, URLPattern) and namespace == "dashboard":
            found.append((f"dashboard:{entry.name}", prefix + route))
    return found


def console_paths() -> list[tuple[str, str]]:
    """(name, path) of every route of the ``dashboard`` namespace, converters filled."""

    def fill(match: re.Match[str]) -> str:
        return _SAMPLES[match.group(1) or "str"]

    return [
        (name, "/" + re.sub(r"<(?:(\w+):)?\w+>", fill, route))
        for name, route in _walk(get_resolver().url_patterns, "", None)
    ]


def test_every_console_route_is_found() -> None:
    names = {name for name, _ in console_paths()}
    # A sample of each kind: pages, pages with an id, actions.
    assert {"dashboard:overview", "dashboard:run", "dashboard:cancel"} <= names
    assert len(names) >= 15


def _refused_to_login(page: Any, path: str, live_server_url: str) -> None:
    response = page.request.get(path, max_redirects=0)
    assert response.status == 302, (path, response.status)
    assert response.headers["location"].startswith("/admin/login/?next="), path


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
def test_every_page_sends_who_may_not_view_to_the_login_form(
    who: str, page: Any, non_staff_page: Any, live_server_url: str
) -> None:
    visitor = page if who == "anonymous" else non_staff_page
    for _name, path in console_paths():
        _refused_to_login(visitor, path, live_server_url)
        # Actions are POSTs: refused the same way, before any CSRF or form check.
        response = visitor.request.post(path, max_redirects=0)
        assert response.status in (302, 403), (path, response.status)
    visitor.goto("/trax/")
    expect(visitor).to_have_url(f"{live_server_url}/admin/login/?next=/trax/")


def test_staff_without_the_view_permission_get_403_everywhere(
    browser_context: Any, staff_user: Any, log_in: Any
) -> None:
    from django.contrib.auth.models import Permission

    staff_user.user_permissions.remove(Permission.objects.get(codename="view_console"))
    log_in(browser_context, staff_user)
    page = browser_context.new_page()
    for _name, path in console_paths():
        response = page.request.get(path, max_redirects=0)
        assert response.status == 403, (path, response.status)
        assert "trax.view_console" in response.text(), path


_OPEN_SOCKET = """async () => {
    const socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/trax/live/");
    return await new Promise((resolve) => {
        const messages = [];
        // A refused socket is accepted only to be closed with its reason; an open one answers
        // a message it does not take with an error, which proves it listens.
        socket.onopen = () => socket.send(JSON.stringify({type: "ping"}));
        socket.onmessage = (event) => {
            messages.push(JSON.parse(event.data));
            socket.close(1000);
        };
        socket.onclose = (event) => resolve({code: event.code, messages});
    });
}"""


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
def test_the_live_socket_closes_on_who_may_not_view(
    who: str, page: Any, non_staff_page: Any
) -> None:
    visitor = page if who == "anonymous" else non_staff_page
    visitor.goto("/admin/login/")  # any page of the origin, to open the socket from
    result = visitor.evaluate(_OPEN_SOCKET)
    assert result == {"code": 4403, "messages": []}


def test_the_live_socket_answers_an_operator(staff_page: Any) -> None:
    staff_page.goto("/admin/login/")
    result = staff_page.evaluate(_OPEN_SOCKET)
    assert result["code"] == 1000
    assert result["messages"][0]["type"] == "error"
    assert "'ping'" in result["messages"][0]["error"]
