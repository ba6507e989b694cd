"""Reading the ids an action names (one in the URL, or the ticked boxes of a list), and the
operator's note: each bad value is a ``ValueError`` naming it, before anything is written."""

from __future__ import annotations

from collections.abc import Iterable

#: The longest note an operator may write (acknowledgements, retries).
NOTE_MAX = 2000
#: The most ids one "selected" form may name (a page's worth, with room).
TICKED_MAX = 500
#: Ids are 64-bit: longer digit strings are no id.
ID_DIGITS = 18


def ticked_ids(raw: Iterable[str], noun: str) -> list[int]:
    """The distinct ids of ``raw``, sorted; raises ``ValueError`` naming a value that is not
    an id, an empty selection, or more than :data:`TICKED_MAX`."""
    values = [value.strip() for value in raw]
    if not values:
        raise ValueError(f"No {noun} was ticked: tick the ones to act on.")
    bad = [v for v in values if not (v.isascii() and v.isdigit() and len(v) <= ID_DIGITS)]
    if bad:
        shown = ", ".join(repr(value[:40]) for value in bad[:5])
        raise ValueError(f"Not a {noun} id: {shown}.")
    ids = sorted({int(value) for value in values})
    if len(ids) > TICKED_MAX:
        raise ValueError(
            f"{len(ids)} {noun}s were ticked; at most {TICKED_MAX} at once "
            "(use the all-matching buttons for more)."
        )
    return ids


def checked_note(note: str, *, required: bool, doing: str) -> str:
    """The note, stripped; ``ValueError`` when it is required and empty, or too long."""
    note = note.strip()
    if required and not note:
        raise ValueError(f"{doing} needs a note saying why.")
    if len(note) > NOTE_MAX:
        raise ValueError(f"The note is {len(note)} characters long; at most {NOTE_MAX} are kept.")
    return note


def page_key(value: str | None, noun: str) -> int | None:
    """A list's ``before`` key: the id to page on from (None: the first page)."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= ID_DIGITS):
        raise ValueError(f"before={value[:40]!r} is not a valid {noun} id")
    return int(value)
