"""Trains the benchmarks run in real worker processes: two that hold their run thread for the
time their input says, one without the database and one in a query on ``default``, and one
that logs a line (captured into ``trax_log``) and returns."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.db import connections

import trax

logger = logging.getLogger("bench.trains")


@dataclass
class Hold:
    seconds: float = 0.1


@dataclass
class Held:
    seconds: float


def sleep(hold: Hold) -> Held:
    """Holds the thread without touching the database."""
    time.sleep(hold.seconds)
    return Held(hold.seconds)


def query(hold: Hold) -> Held:
    """Holds the thread in one query on the ``default`` database, as a train that reads or
    writes the application's tables does."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [hold.seconds])
    return Held(hold.seconds)


def log_line(hold: Hold) -> Held:
    """One WARNING line, no waiting: log capture keeps INFO and up by default, and the bench's
    processes log at WARNING (LOG_LEVEL), which drops INFO records before any handler sees
    them."""
    logger.warning("bench.logged ran")
    return Held(0.0)


@trax.register
class Sleep(trax.Train[Hold, Held]):
    """No database: what a run thread holds of its own."""

    name = "bench.sleep"
    junctions = [sleep]


@trax.register
class Query(trax.Train[Hold, Held]):
    """One query on ``default`` for the whole run."""

    name = "bench.query"
    junctions = [query]


@trax.register
class Logged(trax.Train[Hold, Held]):
    """A run with one captured log line."""

    name = "bench.logged"
    junctions = [log_line]
