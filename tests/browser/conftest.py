"""Browser tests: Debian's Chromium, driven by Playwright, against the example project served by a
real daphne (HTTP and WebSockets) on this run's test database.

- ``browser`` (package scope): headless Chromium at ``/usr/bin/chromium`` (``CHROMIUM``
  overrides), launched by Playwright with the flags below; ``playwright install`` is never used.
  Playwright runs in a thread of its own (``playwright_thread``), so a test may use the ORM and
  run trains between browser calls; its objects are proxies, and ``expect`` comes from
  ``tests.browser.playwright_thread``.
- ``live_server_url``: a ``daphne`` child process (package scope, started once) serving
  ``tests.browser.asgi`` — the example project plus its static files — on a free port, pointed
  at the test database like the integration tests' children. Requesting it makes the test
  transactional, so the server sees what the test committed (PostgreSQL, or SQLite's test file).
- ``page`` (anonymous), ``staff_page``, ``non_staff_page``: a fresh browser context per test
  (light colour scheme, 1280x800), the users created in the test database and logged in by
  their session cookie; ``log_in`` does it for any user.
- ``screenshots``: saves a page as ``<name>-light.png`` and ``<name>-dark.png`` (the context's
  ``color_scheme``), into docs/screenshots/ when ``TRAX_SCREENSHOTS=1``, else a temporary
  folder (so a normal run never touches the committed images).

Every test here is marked ``browser`` (``-m "not browser"`` leaves them out). When Chromium is
missing they are skipped, unless ``TRAX_BROWSER_TESTS=require`` (``make test`` sets it, after
scripts/chromium.sh installed Chromium), then they fail saying how to install it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.browser.playwright_thread import PlaywrightThread, Remote
from tests.conftest import child_database_url

HERE = Path(__file__).resolve().parent
BASE_DIR = HERE.parents[1]
SCREENSHOTS = BASE_DIR / "docs" / "screenshots"

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: As root (no sandbox) on machines without a GPU or a network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
#: A phone's viewport: pages must fit it without scrolling sideways.
PHONE = {"width": 390, "height": 844}
#: Playwright's wait for an element or a navigation, in ms (its default is 30 s).
ACTION_TIMEOUT_MS = 10_000
#: Django's start-up in the daphne child, on a loaded two-core machine.
SERVER_START_LIMIT = 60.0
PASSWORD = "correct horse battery staple"
APPLICATION = "tests.browser.asgi:application"
LISTENING = re.compile(r"Listening on TCP address 127\.0\.0\.1:(\d+)")

HOW_TO_INSTALL = (
    "`make test` installs Debian's chromium package itself when it runs as root "
    "(scripts/chromium.sh); as another user, install it as root first: apt-get install chromium "
    "(Debian 12 and 13), or set CHROMIUM to a Chromium binary"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is a browser test, and transactional on every database alias (the
    server's requests and the ``trax`` alias's run records see what the test commits)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)
            if item.get_closest_marker("django_db") is None:
                item.add_marker(pytest.mark.django_db(transaction=True, databases="__all__"))


def _unavailable(reason: str) -> None:
    """Skip, or fail when this run must run the browser tests (``make test``)."""
    if os.environ.get("TRAX_BROWSER_TESTS") == "require":
        pytest.fail(
            f"{reason}, and this run requires the browser tests (TRAX_BROWSER_TESTS=require, "
            f"as under `make test`). {HOW_TO_INSTALL}.",
            pytrace=False,
        )
    pytest.skip(f"{reason}. {HOW_TO_INSTALL}.")


@pytest.fixture(scope="package")
def playwright_thread() -> Iterator[PlaywrightThread]:
    thread = PlaywrightThread()
    yield thread
    thread.close()


def _start_playwright() -> Any:
    from playwright.sync_api import sync_playwright

    return sync_playwright().start()


@pytest.fixture(scope="package")
def browser(playwright_thread: PlaywrightThread) -> Iterator[Any]:
    """Headless Chromium, shared by the browser tests (each gets a context of its own)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"Chromium is not installed at {CHROMIUM}")
    try:
        import playwright  # noqa: F401
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    started = playwright_thread.call(_start_playwright)
    try:
        chromium = started.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        yield chromium
        chromium.close()
    finally:
        started.stop()


class LiveServer:
    """The daphne child serving the example project."""

    def __init__(self, popen: subprocess.Popen[bytes], log: Path) -> None:
        self.popen = popen
        self.log = log
        self._url = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, once daphne listens (it says the port it was given)."""
        if not self._url:
            deadline = time.monotonic() + SERVER_START_LIMIT
            while not (match := LISTENING.search(self.output())):
                if self.popen.poll() is not None:
                    raise RuntimeError(
                        f"daphne exited with status {self.popen.returncode}:\n{self.output()}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"daphne did not listen within {SERVER_START_LIMIT:g} s:\n{self.output()}"
                    )
                time.sleep(0.05)
            self._url = f"http://127.0.0.1:{match[1]}"
        return self._url


@pytest.fixture(scope="package")
def _daphne(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Starts daphne and does not wait for it (``LiveServer.url`` does): Chromium starts
    meanwhile."""
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    env = {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "INFO",  # daphne says its port at INFO
        # Plain http on 127.0.0.1: cookies without the Secure flag.
        "SESSION_COOKIE_SECURE": "False",
        "CSRF_COOKIE_SECURE": "False",
    }
    with log.open("wb") as out:
        popen = subprocess.Popen(
            # Port 0: the system picks a free one, daphne logs it.
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "0", APPLICATION],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield LiveServer(popen, log)
    finally:
        # SIGTERM lets daphne close its database connections before the test database is
        # dropped; SIGKILL if it dawdles.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGTERM)
        try:
            popen.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(10)


@pytest.fixture
def live_server_url(
    _daphne: LiveServer, transactional_db: None, request: pytest.FixtureRequest
) -> Iterator[str]:
    """Base URL of the daphne serving the example project (``http://127.0.0.1:<port>``).

    The test is transactional: the server sees what the test committed. When the test fails,
    the server's output during it is printed."""
    url = _daphne.url
    assert _daphne.popen.poll() is None, f"daphne exited:\n{_daphne.output()}"
    start = _daphne.log.stat().st_size
    yield url
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        with _daphne.log.open("rb") as log:
            log.seek(start)
            print("\n──── daphne ────\n" + log.read().decode(errors="replace")[-6000:])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


def _new_context(
    browser: Any, base_url: str, color_scheme: str = "light", viewport: Any = VIEWPORT
) -> Any:
    context = browser.new_context(
        base_url=base_url, color_scheme=color_scheme, viewport=viewport, locale="en-US"
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


@pytest.fixture
def browser_context(_daphne: LiveServer, browser: Any, live_server_url: str) -> Iterator[Any]:
    """A fresh browser context (cookies, storage) on the live server, light colour scheme."""
    context = _new_context(browser, live_server_url)
    yield context
    context.close()


@pytest.fixture
def page(browser_context: Any) -> Any:
    """An anonymous page; ``page.goto("/trax/")`` is relative to the live server."""
    return browser_context.new_page()


@functools.cache
def _password_hash() -> str:
    """``PASSWORD`` hashed as the daphne child checks it: this process hashes with MD5 (fast
    tests, tests/conftest.py), which the child's settings do not know; hashed once."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    return hasher.encode(PASSWORD, hasher.salt())


def _user(username: str, *, staff: bool) -> Any:
    from django.contrib.auth import get_user_model

    user = get_user_model()(
        username=username,
        email=f"{username}@example.com",
        password=_password_hash(),
        is_staff=staff,
    )
    user.save()
    if staff:  # an operator: staff with the console's view permission
        from django.contrib.auth.models import Permission

        user.user_permissions.add(Permission.objects.get(codename="view_console"))
    return user


@pytest.fixture
def staff_user(transactional_db: None) -> Any:
    """A staff user (not a superuser); its password is ``user_password``."""
    return _user("operator", staff=True)


@pytest.fixture
def non_staff_user(transactional_db: None) -> Any:
    """An active user who is not staff; its password is ``user_password``."""
    return _user("visitor", staff=False)


@pytest.fixture
def user_password() -> str:
    """The password of ``staff_user`` and ``non_staff_user``."""
    return PASSWORD


@pytest.fixture
def log_in(live_server_url: str) -> Callable[[Any, Any], None]:
    """``log_in(context, user)``: a session for ``user`` in the test database, its cookie in the
    browser context (as ``Client.force_login`` does; the admin's login form is tested once in
    test_smoke)."""
    from django.test import Client

    def log_in(context: Any, user: Any) -> None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server_url}])

    return log_in


@pytest.fixture
def staff_page(browser_context: Any, staff_user: Any, log_in: Callable[[Any, Any], None]) -> Any:
    """A page logged in as ``staff_user``."""
    log_in(browser_context, staff_user)
    return browser_context.new_page()


@pytest.fixture
def non_staff_page(
    browser_context: Any, non_staff_user: Any, log_in: Callable[[Any, Any], None]
) -> Any:
    """A page logged in as ``non_staff_user``."""
    log_in(browser_context, non_staff_user)
    return browser_context.new_page()


@pytest.fixture
def screenshots(
    browser: Any, live_server_url: str, tmp_path: Path
) -> Callable[[Any, str], list[Path]]:
    """``screenshots(page, name)``: the page's URL, with its cookies, opened in a light and a dark
    context (``color_scheme``) at 1280 px and in a phone's viewport, saved as
    ``<name>-light.png``, ``<name>-dark.png`` and ``<name>-phone.png``; returns the paths. On
    the phone the page must not scroll sideways (asserted). Into docs/screenshots/ when
    ``TRAX_SCREENSHOTS=1``, else into the test's temporary folder, so an ordinary run leaves
    the committed images alone."""
    folder = SCREENSHOTS if os.environ.get("TRAX_SCREENSHOTS") == "1" else tmp_path

    def take(page: Remote, name: str) -> list[Path]:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
            raise ValueError(f"screenshot names are lowercase words with dashes; got {name!r}")
        folder.mkdir(parents=True, exist_ok=True)
        cookies = page.context.cookies()
        paths = []
        for label, scheme, viewport in (
            ("light", "light", VIEWPORT),
            ("dark", "dark", VIEWPORT),
            ("phone", "light", PHONE),
        ):
            context = _new_context(browser, live_server_url, scheme, viewport)
            try:
                context.add_cookies(cookies)
                shot = context.new_page()
                shot.goto(page.url)
                if viewport is PHONE:
                    wide = shot.evaluate("document.documentElement.scrollWidth")
                    assert wide <= PHONE["width"], f"{name} scrolls sideways on a phone: {wide} px"
                path = folder / f"{name}-{label}.png"
                shot.screenshot(path=str(path), full_page=True, animations="disabled")
                paths.append(path)
            finally:
                context.close()
        return paths

    return take
