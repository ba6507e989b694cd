"""MAX_INPUT_BYTES: an input whose JSON is longer than the limit is refused at every entry
point — run, enqueue, schedule, dormant activation's validation — before anything is written,
with an error naming the size and the limit."""

from __future__ import annotations

from typing import Any

import pytest

import trax
from trax.core import InputValidationError
from trax.core.serialization import normalise
from trax.models import Manifest, Metadata, WorkQueue
from trax.scheduling.schedules import Every

pytestmark = pytest.mark.django_db

GREET = "demo.greet"


@pytest.fixture
def small_limit(settings: Any) -> None:
    settings.TRAX = {**getattr(settings, "TRAX", {}), "MAX_INPUT_BYTES": 100}


BIG = {"name": "x" * 200}


def test_the_limit_counts_the_stored_json() -> None:
    with pytest.raises(InputValidationError, match=r"is 15 bytes of JSON; .* at most 14"):
        normalise(dict, {"name": "Ada!"}, what="input", max_bytes=14)
    assert normalise(dict, {"name": "Ada"}, what="input", max_bytes=14)[1] == {"name": "Ada"}


@pytest.mark.usefixtures("small_limit")
def test_trax_run_refuses_a_big_input_before_writing() -> None:
    with pytest.raises(InputValidationError, match="MAX_INPUT_BYTES allows at most 100"):
        trax.run(GREET, BIG)
    assert not Metadata.objects.exists()


@pytest.mark.usefixtures("small_limit")
def test_enqueue_refuses_a_big_input_before_writing() -> None:
    with pytest.raises(InputValidationError, match="MAX_INPUT_BYTES"):
        trax.enqueue_many(GREET, [{"name": "Ada"}, BIG])
    assert not WorkQueue.objects.exists()


@pytest.mark.usefixtures("small_limit")
def test_a_schedule_refuses_a_big_input_before_writing() -> None:
    with pytest.raises(InputValidationError, match="MAX_INPUT_BYTES"):
        trax.scheduler.schedule("big", GREET, BIG, Every.minutes(5))
    assert not Manifest.objects.exists()


def test_the_default_limit_is_one_mebibyte() -> None:
    from trax.conf import get_settings

    assert get_settings().MAX_INPUT_BYTES == 1024 * 1024
