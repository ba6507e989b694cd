"""The store's named SQL: every dialect file parses, names are unique, lookups say what is
missing, and every query the code asks for exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trax.store import queries as queries_module
from trax.store.queries import queries, query

STORE = Path(queries_module.__file__).parent


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_each_dialect_file_yields_named_statements_without_comments(vendor: str) -> None:
    named = queries(vendor)

    assert named
    for name, sql in named.items():
        assert sql, name
        assert "-- name:" not in sql
        assert not any(line.lstrip().startswith("--") for line in sql.splitlines()), name


def test_a_missing_query_is_named_in_the_error() -> None:
    with pytest.raises(
        KeyError, match=re.escape("no query 'nope' in trax/store/sql/postgresql.sql")
    ):
        query("postgresql", "nope")


def test_a_name_given_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "twice.sql").write_text("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n")
    monkeypatch.setattr(queries_module, "_SQL_DIR", tmp_path)

    with pytest.raises(ValueError, match=re.escape("twice.sql names 'a' twice")):
        queries_module.queries.__wrapped__("twice")


def test_every_query_the_store_asks_for_exists_and_every_stored_one_is_used() -> None:
    asked: set[tuple[str, str]] = set()
    for path in STORE.rglob("*.py"):
        asked |= set(re.findall(r'query\(\s*"(\w+)",\s*"?(\w+)"?', path.read_text()))
    stored = {(vendor, name) for vendor in ("postgresql", "sqlite") for name in queries(vendor)}
    # a name picked at run time ("work_queue_dispatch_with_jobs" / "..._runs_only") is asked
    # for through a variable: count the names that appear in the store's source instead.
    source = "\n".join(path.read_text() for path in STORE.rglob("*.py"))
    unused = {pair for pair in stored if f'"{pair[1]}"' not in source}
    assert not unused, f"queries no code uses: {sorted(unused)}"
    assert {pair for pair in asked if pair[1] != "name"} <= stored
