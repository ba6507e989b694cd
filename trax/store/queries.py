"""The store's hot-path SQL: named queries per dialect, in ``sql/<vendor>.sql``, read once.

A file holds blocks that start with a ``-- name: <query>`` line; the text up to the next such
line is the query. Keeping them in SQL files keeps them readable, diffable and testable alone.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

_SQL_DIR = Path(__file__).with_name("sql")
_NAME = re.compile(r"^-- name: ([a-z_]+)\s*$", re.MULTILINE)


@functools.cache
def queries(vendor: str) -> dict[str, str]:
    """Every named query of ``vendor`` ('postgresql' or 'sqlite')."""
    text = (_SQL_DIR / f"{vendor}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    # parts: [preamble, name1, body1, name2, body2, ...]
    named = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in named:
            raise ValueError(f"{vendor}.sql names {name!r} twice")
        named[name] = _strip_comments(body)
    return named


def query(vendor: str, name: str) -> str:
    """The SQL text of query ``name`` for ``vendor``; KeyError names what is missing."""
    try:
        return queries(vendor)[name]
    except KeyError:
        raise KeyError(f"no query {name!r} in trax/store/sql/{vendor}.sql") from None


def _strip_comments(body: str) -> str:
    lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip()
