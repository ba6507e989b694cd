"""A real bad row for the isolation tests: a database trigger that refuses to insert the rows
matching a condition, on PostgreSQL and SQLite alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

MESSAGE = "refused by the test trigger"


@contextmanager
def inserts_refused(table: str, column: str, value: str | int) -> Iterator[None]:
    """While open, inserting into ``table`` a row whose ``column`` equals ``value`` raises."""
    literal = str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION trax_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF NEW.{column} = {literal} THEN RAISE EXCEPTION '{MESSAGE}'; END IF; "
                "RETURN NEW; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER trax_test_refuse BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION trax_test_refuse()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER trax_test_refuse BEFORE INSERT ON {table} "
                f"WHEN NEW.{column} = {literal} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DROP TRIGGER trax_test_refuse ON {table}"
                if connection.vendor == "postgresql"
                else "DROP TRIGGER trax_test_refuse"
            )
            if connection.vendor == "postgresql":
                cursor.execute("DROP FUNCTION trax_test_refuse()")
