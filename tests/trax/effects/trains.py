"""Trains the lifecycle tests run, registered under ``tests.*`` names."""

import logging
import threading
from dataclasses import dataclass, field

import trax
from trax.core import CancellationToken

logger = logging.getLogger("tests.trains")


@dataclass
class Numbers:
    values: list[int]


@dataclass
class Total:
    value: int


@dataclass
class Doubled:
    values: list[int]


class Double(trax.Junction):
    def run(self, numbers: Numbers) -> Doubled:
        logger.info("doubling %d values", len(numbers.values))
        return Doubled([v * 2 for v in numbers.values])


def add_up(doubled: Doubled) -> Total:
    logger.debug("adding up")
    return Total(sum(doubled.values))


@trax.register
class SumDoubled(trax.Train[Numbers, Total]):
    name = "tests.sum_doubled"
    junctions = [Double, add_up]


class ExplodingValue(Exception):
    pass


def explode(doubled: Doubled) -> Total:
    logger.error("about to explode")
    raise ExplodingValue(f"cannot add {doubled.values}")


@trax.register
class Explodes(trax.Train[Numbers, Total]):
    name = "tests.explodes"
    junctions = [Double, explode]


class Unserialisable:
    """Not something pydantic can turn into JSON at runtime."""


@dataclass
class Odd:
    thing: object = field(default_factory=Unserialisable)


def make_odd(numbers: Numbers) -> Odd:
    return Odd()


@trax.register
class ReturnsOdd(trax.Train[Numbers, Odd]):
    name = "tests.returns_odd"
    junctions = [make_odd]


@dataclass
class Gate:
    """Test-side events a junction waits on (kept out of the JSON input)."""

    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    run_ids: list[int] = field(default_factory=list)
    reached_second: threading.Event = field(default_factory=threading.Event)


GATE = Gate()


@dataclass
class Wait:
    seconds: float = 30.0


@dataclass
class Waited:
    ok: bool


def wait_for_release(wait: Wait, token: CancellationToken) -> Waited:
    run = trax.current_run()
    assert run.run_id is not None
    GATE.run_ids.append(run.run_id)
    GATE.started.set()
    GATE.release.wait(wait.seconds)
    return Waited(True)


def second_step(waited: Waited) -> Waited:
    GATE.reached_second.set()
    return waited


@trax.register
class Gated(trax.Train[Wait, Waited]):
    """Waits in its first junction until the test releases it."""

    name = "tests.gated"
    junctions = [wait_for_release, second_step]


def sleep_on_token(wait: Wait, token: CancellationToken) -> Waited:
    GATE.started.set()
    token.sleep(wait.seconds)
    return Waited(True)


@trax.register
class Sleeps(trax.Train[Wait, Waited]):
    name = "tests.sleeps"
    junctions = [sleep_on_token, second_step]


@dataclass
class Family:
    children: int


def spawn_children(family: Family) -> Total:
    for _ in range(family.children):
        trax.run(SumDoubled, Numbers([1, 2]))
    return Total(family.children)


@trax.register
class Parent(trax.Train[Family, Total]):
    name = "tests.parent"
    junctions = [spawn_children]


def run_gated_child(wait: Wait) -> Waited:
    return trax.run(Gated, wait)


@trax.register
class ParentOfGated(trax.Train[Wait, Waited]):
    name = "tests.parent_of_gated"
    junctions = [run_gated_child, second_step]
