"""The registry of bulk actions: which pages offer which action on "all matching".

A page registers each action once, at import, with :func:`register`. The same ``apply`` serves
the page's own "selected" form (a page's worth of ids, applied at once) and the background
runner (every matching id, in batches of :data:`BATCH`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

#: Objects handed to ``apply`` at a time by the background runner.
BATCH = 500


@dataclass(frozen=True)
class BulkAction:
    """An action an operator may apply to one, selected, or all matching objects of a page."""

    page: str
    """The page offering it: ``"runs"``, ``"schedules"``, ``"dead_letters"``, ..."""
    name: str
    """Its name in URLs and audit rows: ``"cancel"``, ``"retry"``, ``"enable"``, ..."""
    label: str
    """The button's words: ``"Cancel"``."""
    permission: str
    """The permission it needs, e.g. ``"trax.cancel_run"``."""
    matching: Callable[[str], QuerySet[Any]]
    """The page's search text → the objects it matches; raises ``ValueError`` naming a bad term."""
    apply: Callable[[list[int], str, Mapping[str, str]], int]
    """``(ids, actor, params)`` → how many objects it changed. ``params`` are the form's extra
    fields (e.g. an acknowledgement's ``note``); ``apply`` validates them and raises
    ``ValueError`` naming a bad one before it writes anything."""
    params: tuple[str, ...] = ()
    """The names of the extra form fields it takes."""


_ACTIONS: dict[tuple[str, str], BulkAction] = {}


def register(action: BulkAction) -> BulkAction:
    """Offer ``action`` on its page; registering the same page and name twice is an error."""
    key = (action.page, action.name)
    if key in _ACTIONS and _ACTIONS[key] != action:
        raise ValueError(f"bulk action {action.page}/{action.name} is registered twice")
    _ACTIONS[key] = action
    return action


def bulk_action(page: str, name: str) -> BulkAction:
    """The action ``name`` of ``page``; ``KeyError`` with a clear message when there is none."""
    try:
        return _ACTIONS[(page, name)]
    except KeyError:
        raise KeyError(f"no bulk action {name!r} on page {page!r}") from None


def page_actions(page: str) -> list[BulkAction]:
    """The actions ``page`` offers, in registration order."""
    return [action for (owner, _), action in _ACTIONS.items() if owner == page]
