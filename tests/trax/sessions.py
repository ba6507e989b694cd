"""Counting PostgreSQL sessions in tests that prove nothing leaks one."""

from __future__ import annotations

from django.db import connections


def idle_pool_members(alias: str = "default") -> int:
    """Sessions the alias's connection pool keeps besides the one this thread holds (0 without
    a pool): connections given back to a pool stay open, and that is not a leak."""
    pool = connections[alias].pool
    return pool.get_stats()["pool_size"] - 1 if pool is not None else 0
