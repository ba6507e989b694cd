from __future__ import annotations

from collections.abc import Iterator

import pytest

from trax.dispatch.steps import dispatch as dispatch_step


@pytest.fixture(autouse=True)
def _fresh_router(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The dispatcher's submitter router is built from settings on first use and cached for
    the process: start every test without one, so each test's settings are read."""
    monkeypatch.setattr(dispatch_step, "_router", None)
    yield
