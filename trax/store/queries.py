"""The store's hot-path SQL: named queries per dialect, in ``sql/<vendor>.sql``, read once.

A file holds blocks that start with a ``-- name: <query>`` line; the text up to the next such
line is the query. Keeping them in SQL files keeps them readable, diffable and testable alone.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from django.db.backends.postgresql.base import ServerBindingCursor

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


def execute_named(connection: Any, name: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Run hot-path query ``name`` on a PostgreSQL connection with server-side binding (the
    parameters travel apart from the text instead of being quoted into it), through Django's
    cursor wrapper (error translation, execute wrappers). Not prepared: poolers forbid it."""
    connection.ensure_connection()
    raw = cast(Any, ServerBindingCursor)(connection.connection)
    wrapped = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with wrapped as cursor:
        cursor.execute(query("postgresql", name), params)
        return cursor.fetchall() if cursor.description else []
