"""trax.E003: a pool on the run-records alias too small for what a worker's threads hold."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from trax.checks import check_run_records_pool
from trax.store import run_records_alias


@pytest.fixture
def pool_options(settings: Any):
    def set_pool(pool: Any) -> None:
        databases = copy.deepcopy(settings.DATABASES)
        options = databases[run_records_alias()].setdefault("OPTIONS", {})
        options.pop("pool", None)
        if pool is not None:
            options["pool"] = pool
        settings.DATABASES = databases

    return set_pool


@pytest.mark.parametrize("pool", [{"max_size": 4}, {"min_size": 2}, True])
def test_a_pool_no_larger_than_what_a_worker_holds_is_refused(pool_options, pool: Any) -> None:
    pool_options(pool)

    [error] = check_run_records_pool()

    assert error.id == "trax.E003"
    assert "hold 4 of them for good" in error.msg


@pytest.mark.parametrize("pool", [None, {"min_size": 1, "max_size": 8}])
def test_no_pool_or_a_large_enough_one_passes(pool_options, pool: Any) -> None:
    pool_options(pool)

    assert check_run_records_pool() == []
