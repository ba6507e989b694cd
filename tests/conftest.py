"""Suite-wide test set-up.

- Every ``django_db`` test may use every alias: run records go through the ``trax`` alias on
  PostgreSQL (DESIGN.md §4).
- Atomic (non-transactional) tests wrap each connection in its own rolled-back transaction,
  so there run records are pointed at ``default`` to stay visible to the test; tests that
  check the separate connection itself use ``django_db(transaction=True)``.
- ``@pytest.mark.postgresql`` tests are skipped on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection


def pytest_configure(config: pytest.Config) -> None:
    # Hashing test users' passwords with PBKDF2 costs a third of a second each.
    django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and "databases" not in marker.kwargs:
            kwargs: dict[str, Any] = {**marker.kwargs, "databases": "__all__"}
            item.add_marker(pytest.mark.django_db(*marker.args, **kwargs), append=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgresql") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Close this thread's persistent connections (``trax`` alias too) before the test
    database is dropped."""
    yield
    with django_db_blocker.unblock():
        from django.db import connections

        connections.close_all()


@pytest.fixture(autouse=True)
def _run_records_follow_atomic_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and (
        marker.kwargs.get("transaction") or (marker.args and marker.args[0])
    )
    if marker is None or transactional or "trax" not in django_settings.DATABASES:
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.TRAX = {**getattr(django_settings, "TRAX", {}), "DATABASE_ALIAS": "default"}
    yield


def child_database_url() -> str:
    """``DATABASE_URL`` of this run's test database, for processes that tests start. Call it once
    pytest-django created the database: in a test, or a fixture that uses ``django_db_setup``."""
    from urllib.parse import quote

    settings_dict = connection.settings_dict
    if connection.vendor == "postgresql":
        return "postgres://{user}:{password}@{host}:{port}/{name}".format(
            user=quote(settings_dict["USER"] or ""),
            password=quote(settings_dict["PASSWORD"] or ""),
            host=settings_dict["HOST"] or "localhost",
            port=settings_dict["PORT"] or 5432,
            name=settings_dict["NAME"],
        )
    return f"sqlite:///{settings_dict['NAME']}"


@pytest.fixture
def child_process_env() -> dict[str, str]:
    """Environment for a real child process (``manage.py ...``) pointed at this test's database.

    Use with ``django_db(transaction=True)`` so the child sees what the test committed.
    """
    import os

    return {**os.environ, "DATABASE_URL": child_database_url(), "PYTHONUNBUFFERED": "1"}


@pytest.fixture(autouse=True)
def _housekeeping_faults_forgotten() -> Iterator[None]:
    """Each test sees its own faults reported (the reporters de-duplicate per process)."""
    from trax.dispatch.context import DISPATCHER_FAULTS
    from trax.manager.context import MANAGER_FAULTS

    MANAGER_FAULTS.forget()
    DISPATCHER_FAULTS.forget()
    yield
