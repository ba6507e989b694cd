"""Trains the worker tests need beyond the demo ones, registered under ``tests.workers.*``."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import trax

STUBBORN_STARTED = threading.Event()
STUBBORN_RELEASE = threading.Event()


@dataclass
class Stubborn:
    wait_seconds: float = 60.0


def ignore_the_token(work: Stubborn) -> Stubborn:
    """A sync junction that never checks its cancellation token."""
    STUBBORN_STARTED.set()
    STUBBORN_RELEASE.wait(work.wait_seconds)
    return work


@trax.register
class StubbornTrain(trax.Train[Stubborn, Stubborn]):
    """Keeps its run thread until the test releases it, cancelled or not."""

    name = "tests.workers.stubborn"
    junctions = [ignore_the_token]
