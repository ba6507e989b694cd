"""Integration tests with real ``manage.py`` processes on PostgreSQL (issue 4, "Done means")."""
