"""Demo trains of the example project: read them in a minute.

Try them from a shell::

    python manage.py trax_run demo.greet --input '{"name": "Ada"}'
    python manage.py trax_run demo.always_fails --input '{"name": "Ada"}'
    python manage.py trax_run demo.slow --input '{"steps": 30}'   # cancel: trax_cancel <run id>
"""

import asyncio
import logging
from dataclasses import dataclass

import trax

logger = logging.getLogger(__name__)


@dataclass
class Person:
    name: str


@dataclass
class Greeting:
    text: str


@dataclass
class Shouted:
    text: str


@dataclass
class Card:
    greeting: str
    signed_by: str


class ComposeGreeting(trax.Junction):
    """First junction: a class with a typed ``run``."""

    def run(self, person: Person) -> Greeting:
        logger.info("composing a greeting for %s", person.name)
        return Greeting(f"Hello, {person.name}")


async def shout(greeting: Greeting) -> Shouted:
    """Second junction: async functions work too (driven from the run's thread)."""
    await asyncio.sleep(0.01)
    return Shouted(greeting.text.upper() + "!")


def sign(shouted: Shouted, person: Person) -> Card:
    """Third junction: takes a value from two steps back (the input) as well."""
    return Card(greeting=shouted.text, signed_by=f"the {person.name} fan club")


@trax.register
class Greet(trax.Train[Person, Card]):
    """Succeeds through three junctions, one of them async."""

    name = "demo.greet"
    junctions = [ComposeGreeting, shout, sign]


class PaymentDeclined(Exception):
    """The demo's business error."""


def charge_card(greeting: Greeting) -> Shouted:
    raise PaymentDeclined("card ending 4242 was declined")


@trax.register
class AlwaysFails(trax.Train[Person, Card]):
    """Always fails in its second junction; the third never runs."""

    name = "demo.always_fails"
    junctions = [ComposeGreeting, charge_card, sign]


@dataclass
class SlowWork:
    steps: int = 20
    seconds_per_step: float = 0.5


@dataclass
class SlowReport:
    steps_done: int


class WorkSlowly(trax.Junction):
    """Sleeps in small cancellable steps: a cancel interrupts it at once."""

    def run(self, work: SlowWork) -> SlowReport:
        for step in range(work.steps):
            logger.info("step %d of %d", step + 1, work.steps)
            self.token.sleep(work.seconds_per_step)
        return SlowReport(steps_done=work.steps)


def report(done: SlowReport) -> SlowReport:
    return done


@trax.register
class Slow(trax.Train[SlowWork, SlowReport]):
    """A slow run to cancel from the admin or ``manage.py trax_cancel``."""

    name = "demo.slow"
    junctions = [WorkSlowly, report]
