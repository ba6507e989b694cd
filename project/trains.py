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


@dataclass
class Stages:
    seconds_per_stage: float = 2.0


def _stage(stages: Stages, name: str) -> Stages:
    logger.info("%s for %.1f s", name, stages.seconds_per_stage)
    trax.current_run().token.sleep(stages.seconds_per_stage)
    return stages


def prepare(stages: Stages) -> Stages:
    return _stage(stages, "preparing")


def process(stages: Stages) -> Stages:
    return _stage(stages, "processing")


def publish(stages: Stages) -> Stages:
    return _stage(stages, "publishing")


@trax.register
class Staged(trax.Train[Stages, Stages]):
    """Three slow junctions in a row: watch its progress move on the run's page, cancel it."""

    name = "demo.stages"
    junctions = [prepare, process, publish]


@dataclass
class Ping:
    n: int = 0


def pong(ping: Ping) -> Ping:
    return ping


@trax.register
class Noop(trax.Train[Ping, Ping]):
    """Does nothing: what benchmarks queue by the thousand."""

    name = "demo.noop"
    junctions = [pong]


# ── Scheduled demo (synced by `manage.py trax_scheduler`) ──────────────────────────────────────


@dataclass
class Batch:
    source: str = "orders"
    rows: int = 100


@dataclass
class Extracted:
    source: str
    rows: int


def extract(batch: Batch) -> Extracted:
    logger.info("extracting %d rows from %s", batch.rows, batch.source)
    return Extracted(batch.source, batch.rows)


@trax.register
class Extract(trax.Train[Batch, Extracted]):
    name = "demo.etl.extract"
    junctions = [extract]


@trax.register
class Transform(trax.Train[Batch, Extracted]):
    name = "demo.etl.transform"
    junctions = [extract]


@trax.register
class Load(trax.Train[Batch, Extracted]):
    name = "demo.etl.load"
    junctions = [extract]


@trax.register
class Validate(trax.Train[Batch, Extracted]):
    name = "demo.etl.validate"
    junctions = [extract]


@trax.register
class Flaky(trax.Train[Person, Card]):
    """Always fails: with 2 retries 5 s apart it reaches a dead letter within a minute."""

    name = "demo.flaky"
    junctions = [ComposeGreeting, charge_card, sign]


@dataclass
class Notice:
    text: str


def notify(notice: Notice) -> Notice:
    logger.info("notifying: %s", notice.text)
    return notice


@trax.register
class Notify(trax.Train[Notice, Notice]):
    """A dormant child: it runs only when its parent activates it, with the parent's input."""

    name = "demo.notify"
    junctions = [notify]


def decide_to_notify(batch: Batch) -> Extracted:
    if batch.rows > 0:
        trax.activate("demo-notify", {"text": f"{batch.rows} rows arrived from {batch.source}"})
    return Extracted(batch.source, batch.rows)


@trax.register
class Watch(trax.Train[Batch, Extracted]):
    """Activates its dormant child at runtime when there is something to say."""

    name = "demo.watch"
    junctions = [decide_to_notify]


(
    trax.schedules.schedule(
        "demo-etl-extract", Extract, Batch(), trax.Every.seconds(30), group="demo-etl"
    )
    .then_include("demo-etl-transform", Transform, Batch(), group="demo-etl")
    .then_include("demo-etl-load", Load, Batch(), group="demo-etl")
    .include("demo-etl-validate", Validate, Batch(), group="demo-etl")
)
trax.schedules.schedule(
    "demo-flaky",
    Flaky,
    Person("Flaky"),
    trax.Every.minutes(10),
    max_retries=2,
    retry_delay=5,
)
trax.schedules.schedule("demo-watch", Watch, Batch("webhooks", 3), trax.Every.minutes(1))
trax.schedules.include("demo-notify", Notify, Notice("nothing yet"), dormant=True)
trax.schedules.schedule(
    "demo-nightly-report", Greet, Person("night shift"), trax.Cron.daily(hour=3, minute=30)
)
