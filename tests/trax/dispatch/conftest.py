from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from trax.dispatch.steps import dispatch as dispatch_step


@pytest.fixture(autouse=True)
def _fresh_router(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The dispatcher's submitter router is built from settings on first use and cached for
    the process: start every test without one, so each test's settings are read."""
    monkeypatch.setattr(dispatch_step, "_router", None)
    yield


@pytest.fixture(autouse=True)
def _through_the_dispatcher(settings: Any) -> None:
    """These tests queue work for the dispatcher to take: enqueues do not skip it."""
    settings.TRAX = {**getattr(settings, "TRAX", {}), "DIRECT_DISPATCH": False}
