"""Trains the integration tests run in real worker processes.

Every train takes a ``Work`` and appends one line to ``<dir>/ledger.log`` when it starts:
``<key> <pid> <run id>``. The ledger is the side effect the tests count ("started exactly
once"); a line is written with one ``O_APPEND`` write, so lines from many processes never mix.
Runs that wait are released by creating ``<dir>/go-<key>``.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

import trax

LEDGER = "ledger.log"


@dataclass
class Work:
    key: str
    dir: str
    seconds: float = 60.0  # how long a waiting train waits at most (or sleeps, for it.sleepy)


@dataclass
class Done:
    key: str
    pid: int


def record_start(work: Work) -> None:
    run = trax.current_run()
    line = f"{work.key} {os.getpid()} {run.run_id}\n".encode()
    fd = os.open(os.path.join(work.dir, LEDGER), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def go_file(work: Work) -> Path:
    return Path(work.dir) / f"go-{work.key}"


def record(work: Work) -> Done:
    record_start(work)
    return Done(work.key, os.getpid())


def block(work: Work) -> Done:
    """Waits for its go file, cancellably (the token's sleep)."""
    record_start(work)
    token = trax.current_run().token
    deadline = time.monotonic() + work.seconds
    while not go_file(work).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no go file for {work.key} within {work.seconds:g} s")
        token.sleep(0.05)
    return Done(work.key, os.getpid())


def ignore_cancellation(work: Work) -> Done:
    """Waits for its go file, deaf to its token (plain ``time.sleep``)."""
    record_start(work)
    deadline = time.monotonic() + work.seconds
    while not go_file(work).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return Done(work.key, os.getpid())


def sleep(work: Work) -> Done:
    record_start(work)
    trax.current_run().token.sleep(work.seconds)
    return Done(work.key, os.getpid())


async def sleep_async(work: Work) -> Done:
    record_start(work)
    await asyncio.sleep(work.seconds)
    return Done(work.key, os.getpid())


def query_then_block(work: Work) -> Done:
    """Uses a connection of ``default`` (as a train's own ORM work would), then blocks."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return block(work)


@trax.register
class Record(trax.Train[Work, Done]):
    name = "it.record"
    junctions = [record]


@trax.register
class Block(trax.Train[Work, Done]):
    name = "it.block"
    junctions = [block]


@trax.register
class Stubborn(trax.Train[Work, Done]):
    name = "it.stubborn"
    junctions = [ignore_cancellation]


@trax.register
class Sleepy(trax.Train[Work, Done]):
    name = "it.sleepy"
    junctions = [sleep]


@trax.register
class AsyncSleep(trax.Train[Work, Done]):
    name = "it.async_sleep"
    junctions = [sleep_async]


@trax.register
class QueryBlock(trax.Train[Work, Done]):
    name = "it.query_block"
    junctions = [query_then_block]


TRAINS = (Record, Block, Stubborn, Sleepy, AsyncSleep, QueryBlock)
