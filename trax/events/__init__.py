"""Cross-process events: PostgreSQL LISTEN/NOTIFY; on SQLite, callers poll."""
