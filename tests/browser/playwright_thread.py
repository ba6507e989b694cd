"""Playwright's sync API, run in a thread of its own.

Between two of its calls, Playwright's sync API leaves its event loop marked as running in the
thread that started it (``asyncio._set_running_loop``; see ``wait_for_future`` in
``playwright/_impl/_greenlets.py``). In that thread Django then refuses ORM calls
(``SynchronousOnlyOperation``) and asgiref's ``async_to_sync`` refuses to run, and trax drives
async junctions with it: a test could not touch the database, or run a train, between two
browser calls.

So Playwright lives in a thread of its own. Its objects reach the test as ``Remote`` proxies:
attribute reads and method calls run in that thread, results come back proxied again, and the
test's thread stays an ordinary synchronous one. Handlers given to Playwright (``page.on``,
``page.route``, predicates) run in Playwright's thread and get proxies too; calls they make there
run directly. Use this module's ``expect`` in place of ``playwright.sync_api.expect``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

#: Longest wait for one call; Playwright's own timeouts (seconds by default) come first.
CALL_TIMEOUT = 120.0


class PlaywrightThread:
    """One thread that runs every Playwright call of a test session."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright")
        self._ident = self._executor.submit(threading.get_ident).result()
        self._handlers: dict[Callable[..., Any], Callable[..., Any]] = {}

    def call(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` in Playwright's thread; proxies in the arguments are
        unwrapped, Playwright objects in the result wrapped."""
        __tracebackhide__ = True
        args = tuple(self._unwrap(arg) for arg in args)
        kwargs = {name: self._unwrap(value) for name, value in kwargs.items()}
        if threading.get_ident() == self._ident:  # from a handler, already in the thread
            return self._wrap(function(*args, **kwargs))
        future = self._executor.submit(function, *args, **kwargs)
        return self._wrap(future.result(CALL_TIMEOUT))

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _wrap(self, value: Any) -> Any:
        if type(value) in (list, tuple):
            return type(value)(self._wrap(item) for item in value)
        if _is_playwright_object(value):
            return Remote(value, self)
        return value

    def _unwrap(self, value: Any) -> Any:
        if isinstance(value, Remote):
            return value._target
        if type(value) in (list, tuple):
            return type(value)(self._unwrap(item) for item in value)
        if isinstance(value, dict):
            return {key: self._unwrap(item) for key, item in value.items()}
        if callable(value) and not isinstance(value, type):
            return self._handler(value)
        return value

    def _handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """``handler`` as Playwright calls it, with proxied arguments; the same wrapper for the
        same handler, so that ``page.remove_listener`` finds what ``page.on`` added."""
        if handler not in self._handlers:

            @functools.wraps(handler)
            def called_by_playwright(*args: Any, **kwargs: Any) -> Any:
                return self._unwrap(
                    handler(
                        *(self._wrap(arg) for arg in args),
                        **{name: self._wrap(value) for name, value in kwargs.items()},
                    )
                )

            self._handlers[handler] = called_by_playwright
        return self._handlers[handler]


def _is_playwright_object(value: Any) -> bool:
    return not isinstance(value, BaseException) and type(value).__module__.startswith("playwright.")


class Remote:
    """A Playwright object that lives in Playwright's thread (a ``Page``, ``Locator``,
    ``BrowserContext``, ...); use it as the object itself."""

    __slots__ = ("_target", "_thread")

    _target: Any
    _thread: PlaywrightThread

    def __init__(self, target: Any, thread: PlaywrightThread) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_thread", thread)

    def __getattr__(self, name: str) -> Any:
        __tracebackhide__ = True
        value = self._thread.call(getattr, self._target, name)
        if callable(value) and not isinstance(value, Remote | type):
            return functools.wraps(value)(functools.partial(self._thread.call, value))
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot set {name!r} on a proxy of {self._target!r}")

    def __enter__(self) -> Any:
        return self._thread.call(type(self._target).__enter__, self._target)

    def __exit__(self, *exc_info: Any) -> Any:
        __tracebackhide__ = True
        return self._thread.call(type(self._target).__exit__, self._target, *exc_info)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Remote) and other._target is self._target

    def __hash__(self) -> int:
        return id(self._target)

    def __repr__(self) -> str:
        return f"Remote({self._thread.call(repr, self._target)})"


def expect(actual: Any, message: str | None = None) -> Any:
    """``playwright.sync_api.expect`` for proxied pages, locators and responses."""
    __tracebackhide__ = True
    from playwright.sync_api import expect as playwright_expect

    if not isinstance(actual, Remote):
        raise TypeError(
            f"expect() takes a page, locator or response of the fixtures, not {actual!r}"
        )
    return actual._thread.call(playwright_expect, actual, message)
