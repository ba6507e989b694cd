"""The database's clock in hand-written SQL (the ORM's ``Now()`` matches it).

Run timestamps all come from the database, so hosts with skewed clocks still agree.
"""

_NOW_SQL = {
    # The statement's time, not the transaction's (CURRENT_TIMESTAMP), as Django's Now() does.
    "postgresql": "STATEMENT_TIMESTAMP()",
    "sqlite": "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW')",
}


def database_now_sql(vendor: str) -> str:
    """SQL for the current time on ``vendor`` (``%`` escaped for parameterised queries)."""
    return _NOW_SQL[vendor]
