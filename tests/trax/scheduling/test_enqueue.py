"""One-off runs: ``trax.enqueue`` / ``trax.enqueue_many`` queue a registered train with an
input (no manifest) and return the entries' external ids at once. Bad input queues nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

import trax
from project.trains import Card, Greet, Person, SlowWork
from trax.core import InputValidationError
from trax.models import BackgroundJob, Metadata, TrainState, WorkQueue, WorkQueueStatus
from trax.registry import UnknownTrainError
from trax.scheduling.errors import ScheduleError

pytestmark = pytest.mark.django_db

GREET = "demo.greet"
ADA = {"name": "Ada"}


def queue_rows() -> list[dict[str, Any]]:
    return list(WorkQueue.objects.order_by("pk").values())


def assert_nothing_queued(
    call: Callable[[], object], error: type[Exception] | tuple[type[Exception], ...]
) -> Exception:
    before_count, before = WorkQueue.objects.count(), queue_rows()
    with pytest.raises(error) as info:
        call()
    assert WorkQueue.objects.count() == before_count
    assert queue_rows() == before
    return info.value


# ── what gets queued ─────────────────────────────────────────────────────────────────────────


def test_enqueue_returns_the_entrys_external_id_at_once() -> None:
    entry_id = trax.enqueue(GREET, ADA)

    assert isinstance(entry_id, uuid.UUID)
    entry = WorkQueue.objects.get()
    assert entry.external_id == entry_id
    assert (entry.train_name, entry.input, entry.priority, entry.max_retries) == (GREET, ADA, 0, 0)
    assert entry.manifest_id is None and not entry.is_explicit_trigger
    assert entry.scheduled_at is None  # due at once


def test_uncapped_work_goes_straight_to_the_job_queue_with_its_run_pending() -> None:
    first, second = trax.enqueue_many(GREET, [ADA, {"name": "Grace"}], priority=7, max_retries=2)

    entries = list(WorkQueue.objects.order_by("id"))
    assert [e.external_id for e in entries] == [first, second]
    runs = list(Metadata.objects.order_by("id"))
    assert [(r.name, r.input, r.train_state, r.attempt) for r in runs] == [
        (GREET, ADA, TrainState.PENDING, 1),
        (GREET, {"name": "Grace"}, TrainState.PENDING, 1),
    ]
    for entry, run in zip(entries, runs, strict=True):
        assert entry.status == WorkQueueStatus.DISPATCHED and entry.dispatched_at is not None
        assert (entry.metadata_id, run.work_queue_id) == (run.pk, entry.pk)
        assert (entry.priority, entry.max_retries, entry.attempt) == (7, 2, 1)
        assert run.external_id not in (first, second)  # every run has an id of its own
    jobs = list(BackgroundJob.objects.order_by("id").values_list("metadata_id", "priority"))
    assert jobs == [(runs[0].pk, 7), (runs[1].pk, 7)]  # claimed in the order queued


@pytest.mark.parametrize(
    ("trax_settings", "options"),
    [
        pytest.param({"MAX_ACTIVE_JOBS": 5}, {}, id="a global cap counts it"),
        pytest.param({"DIRECT_DISPATCH": False}, {}, id="direct dispatch off"),
        pytest.param({"SUBMITTER_ROUTES": {GREET: "inline"}}, {}, id="another submitter"),
        pytest.param({}, {"delay": 60}, id="delayed"),
        pytest.param({}, {"run_at": datetime(2030, 1, 1, tzinfo=UTC)}, id="run_at"),
    ],
)
def test_work_the_dispatcher_must_see_waits_queued_for_it(
    settings: Any, trax_settings: dict[str, Any], options: dict[str, Any]
) -> None:
    settings.TRAX = {**getattr(settings, "TRAX", {}), **trax_settings}

    trax.enqueue(GREET, ADA, **options)

    assert WorkQueue.objects.get().status == WorkQueueStatus.QUEUED
    assert not Metadata.objects.exists() and not BackgroundJob.objects.exists()


def test_direct_work_joins_the_callers_transaction() -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        trax.enqueue(GREET, ADA)
        raise Boom

    assert not WorkQueue.objects.exists()
    assert not Metadata.objects.exists() and not BackgroundJob.objects.exists()


def test_enqueue_takes_the_train_class_and_an_input_instance() -> None:
    trax.enqueue(Greet, Person("Grace"))

    entry = WorkQueue.objects.get()
    assert (entry.train_name, entry.input) == (GREET, {"name": "Grace"})


def test_enqueue_stores_the_input_normalised_by_the_trains_input_type() -> None:
    trax.enqueue("demo.slow", {"steps": 3})

    assert WorkQueue.objects.get().input == {"steps": 3, "seconds_per_step": 0.5}


def test_enqueue_stores_priority_and_max_retries() -> None:
    trax.enqueue(GREET, ADA, priority=31, max_retries=4)

    entry = WorkQueue.objects.get()
    assert (entry.priority, entry.max_retries) == (31, 4)


def test_enqueue_at_a_time_schedules_the_entry_then() -> None:
    run_at = datetime(2031, 6, 1, 8, 30, tzinfo=UTC)

    trax.enqueue(GREET, ADA, run_at=run_at)

    assert WorkQueue.objects.get().scheduled_at == run_at


@pytest.mark.parametrize(
    "delay", [90, 90.0, timedelta(seconds=90)], ids=["int", "float", "timedelta"]
)
def test_enqueue_after_a_delay_schedules_the_entry_that_much_later(delay: Any) -> None:
    before = timezone.now()

    trax.enqueue(GREET, ADA, delay=delay)

    scheduled_at = WorkQueue.objects.get().scheduled_at
    assert before + timedelta(seconds=90) <= scheduled_at <= timezone.now() + timedelta(seconds=90)


def test_a_zero_delay_is_due_now() -> None:
    before = timezone.now()

    trax.enqueue(GREET, ADA, delay=0)

    assert before <= WorkQueue.objects.get().scheduled_at <= timezone.now()


def test_enqueue_many_queues_one_entry_per_input_in_order() -> None:
    inputs = [{"name": "Ada"}, Person("Grace"), {"name": "Lin"}]

    ids = trax.enqueue_many(GREET, inputs, priority=2, delay=60, max_retries=1)

    assert len(ids) == 3 and len(set(ids)) == 3
    assert all(isinstance(i, uuid.UUID) for i in ids)
    rows = {e.external_id: e for e in WorkQueue.objects.all()}
    assert [rows[i].input for i in ids] == [{"name": "Ada"}, {"name": "Grace"}, {"name": "Lin"}]
    assert {(e.train_name, e.priority, e.max_retries) for e in rows.values()} == {(GREET, 2, 1)}
    assert len({e.scheduled_at for e in rows.values()}) == 1


def test_enqueue_many_takes_any_iterable() -> None:
    ids = trax.enqueue_many(GREET, ({"name": n} for n in "abc"))

    assert len(ids) == 3 and WorkQueue.objects.count() == 3


def test_enqueue_many_of_nothing_queues_nothing() -> None:
    assert trax.enqueue_many(GREET, []) == []
    assert WorkQueue.objects.count() == 0


def test_enqueue_many_beyond_one_batch_queues_every_input() -> None:
    ids = trax.enqueue_many(GREET, [{"name": str(i)} for i in range(1201)])

    assert len(ids) == 1201
    assert set(WorkQueue.objects.values_list("external_id", flat=True)) == set(ids)


def test_each_enqueue_is_a_new_lineage() -> None:
    first = trax.enqueue(GREET, ADA)
    second = trax.enqueue(GREET, ADA)

    assert first != second and WorkQueue.objects.count() == 2


# ── transactions ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.django_db(transaction=True)
def test_enqueue_inside_a_rolled_back_transaction_queues_nothing() -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        trax.enqueue(GREET, ADA)
        trax.enqueue_many(GREET, [ADA, ADA])
        assert WorkQueue.objects.count() == 3  # visible inside the caller's transaction
        raise Abort

    assert WorkQueue.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_enqueue_inside_a_committed_transaction_queues_on_commit() -> None:
    with transaction.atomic():
        entry_id = trax.enqueue(GREET, ADA)

    assert WorkQueue.objects.filter(external_id=entry_id).exists()


# ── bad input is refused and queues nothing ──────────────────────────────────────────────────


@dataclass
class Parcel:
    weight: int


def weigh(parcel: Parcel) -> Card:
    return Card(greeting=str(parcel.weight), signed_by="scales")


class Unregistered(trax.Train[Parcel, Card]):
    name = "tests.enqueue.unregistered"
    junctions = [weigh]


class Impostor(trax.Train[Parcel, Card]):
    """Claims a registered name without being the registered class."""

    name = GREET
    junctions = [weigh]


@pytest.mark.parametrize("train", ["demo.nope", "", "Greet", 42, None, trax.Train])
def test_an_unknown_train_is_refused(train: Any) -> None:
    trax.enqueue(GREET, ADA)

    assert_nothing_queued(lambda: trax.enqueue(train, ADA), UnknownTrainError)
    assert_nothing_queued(lambda: trax.enqueue_many(train, [ADA]), UnknownTrainError)


def test_an_unregistered_train_class_is_refused() -> None:
    error = assert_nothing_queued(
        lambda: trax.enqueue(Unregistered, {"weight": 3}), (ScheduleError, UnknownTrainError)
    )
    assert "tests.enqueue.unregistered" in str(error)


def test_an_unregistered_class_reusing_a_registered_name_is_refused() -> None:
    assert_nothing_queued(
        lambda: trax.enqueue(Impostor, {"weight": 3}),
        (ScheduleError, UnknownTrainError, InputValidationError),
    )


@pytest.mark.parametrize(
    "bad_input",
    [{}, {"nom": "Ada"}, {"name": 5}, {"name": None}, "Ada", None, ["Ada"], SlowWork()],
    ids=["empty", "wrong-key", "int-name", "none-name", "string", "none", "list", "other-type"],
)
def test_an_input_of_the_wrong_shape_is_refused(bad_input: Any) -> None:
    assert_nothing_queued(lambda: trax.enqueue(GREET, bad_input), InputValidationError)


@pytest.mark.parametrize("position", [0, 1, 2])
def test_one_bad_input_among_many_queues_none(position: int) -> None:
    inputs: list[Any] = [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    inputs[position] = {"name": ["not", "a", "name"]}

    error = assert_nothing_queued(lambda: trax.enqueue_many(GREET, inputs), InputValidationError)
    assert GREET in str(error)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"priority": -1}, "priority"),
        ({"priority": 32}, "priority"),
        ({"priority": True}, "priority"),
        ({"priority": 1.0}, "priority"),
        ({"priority": "3"}, "priority"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"run_at": datetime(2031, 1, 1, 9, 0)}, "run_at"),
        ({"run_at": "2031-01-01T09:00:00Z"}, "run_at"),
        ({"run_at": datetime(2031, 1, 1, tzinfo=UTC), "delay": 5}, "run_at"),
        ({"delay": -1}, "delay"),
        ({"delay": timedelta(seconds=-1)}, "delay"),
        ({"delay": "5"}, "delay"),
        ({"delay": True}, "delay"),
    ],
    ids=[
        "priority-negative",
        "priority-32",
        "priority-bool",
        "priority-float",
        "priority-string",
        "max-retries-negative",
        "max-retries-bool",
        "max-retries-float",
        "run-at-naive",
        "run-at-string",
        "run-at-and-delay",
        "delay-negative",
        "delay-negative-timedelta",
        "delay-string",
        "delay-bool",
    ],
)
def test_a_bad_option_is_refused_naming_the_field(options: dict[str, Any], field: str) -> None:
    trax.enqueue(GREET, ADA)

    error = assert_nothing_queued(lambda: trax.enqueue(GREET, ADA, **options), ScheduleError)
    assert error.field == field  # type: ignore[attr-defined]
    error = assert_nothing_queued(
        lambda: trax.enqueue_many(GREET, [ADA, ADA], **options), ScheduleError
    )
    assert error.field == field  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_a_direct_enqueue_of_many_chunks_queues_all_or_nothing() -> None:
    from django.db import DatabaseError, connection

    from trax.store.work_entries.direct import CHUNK

    statements: list[str] = []

    def fail_the_second_chunk(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "INSERT INTO trax_work_queue" in sql.replace('"', ""):
            statements.append(sql)
            if len(statements) > 1:
                raise DatabaseError("disk full")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_the_second_chunk), pytest.raises(DatabaseError):
        trax.enqueue_many(GREET, [ADA] * (CHUNK + 1))

    assert not WorkQueue.objects.exists()
    assert not Metadata.objects.exists() and not BackgroundJob.objects.exists()


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"max_retries": 10**12}, "max_retries must be an int from 0 to 1000"),
        ({"delay": 1e300}, "delay must be a number of seconds from 0 to"),
    ],
)
def test_out_of_range_options_are_refused_before_anything_is_written(
    options: dict[str, Any], words: str
) -> None:
    assert words in str(
        assert_nothing_queued(lambda: trax.enqueue(GREET, ADA, **options), ScheduleError)
    )
