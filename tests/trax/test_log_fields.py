"""Structured logs: every engine record carries the run id, train, attempt and worker id as
attributes; ``RunFields`` gives them to the user's records inside a run; the manager's cycle
line is a short summary, a warning when something went wrong."""

from __future__ import annotations

import logging
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

import trax
from project.trains import PaymentDeclined
from trax import log_fields
from trax.core import RunContext
from trax.effects.from_settings import default_service
from trax.log_fields import ATTEMPT, RUN_ID, TRAIN, WORKER_ID, RunFields
from trax.manager.cycle import _PHRASES, CycleReport
from trax.models import Metadata
from trax.store import metadata_create

PACKAGE = Path(trax.__file__).parent


class RaisingHook(trax.LifecycleHook):
    def on_started(self, run: RunContext) -> None:
        raise RuntimeError("hook bug")


@pytest.fixture
def worker_named() -> Any:
    log_fields.set_worker_id("web-1/42-abc")
    yield "web-1/42-abc"
    log_fields.set_worker_id(None)


def test_every_engine_logger_is_given_the_fields() -> None:
    named = {
        match
        for path in PACKAGE.rglob("*.py")
        for match in re.findall(r'getLogger\("(trax[.\w]*)"\)', path.read_text())
    }
    assert named, "no engine logger found: the pattern is stale"
    assert named <= set(log_fields.ENGINE_LOGGERS)
    for name in log_fields.ENGINE_LOGGERS:
        assert any(isinstance(f, RunFields) for f in logging.getLogger(name).filters), name


@pytest.mark.django_db
def test_a_record_about_a_run_names_it(
    settings: Any, caplog: pytest.LogCaptureFixture, worker_named: str
) -> None:
    settings.TRAX = {
        **settings.TRAX,
        "LIFECYCLE_HOOKS": ["tests.trax.test_log_fields.RaisingHook"],
    }
    trax.run("demo.greet", {"name": "Ada"})

    (record,) = [r for r in caplog.records if r.name == "trax.hooks"]
    run = Metadata.objects.get()
    assert getattr(record, RUN_ID) == run.pk
    assert getattr(record, TRAIN) == "demo.greet"
    assert getattr(record, ATTEMPT) == 1
    assert getattr(record, WORKER_ID) == worker_named


def test_a_record_about_no_run_has_the_fields_empty(
    caplog: pytest.LogCaptureFixture, worker_named: str
) -> None:
    caplog.set_level(logging.INFO, logger="trax.workers")
    logging.getLogger("trax.workers").info("claiming")

    (record,) = caplog.records
    assert getattr(record, RUN_ID) is None
    assert getattr(record, TRAIN) is None
    assert getattr(record, ATTEMPT) is None
    assert getattr(record, WORKER_ID) == worker_named


def test_explicit_fields_win_over_the_current_run(caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger("trax.runs").warning("x", extra=log_fields.run_fields(7, "a.b", 3))
    (record,) = caplog.records
    assert (getattr(record, RUN_ID), getattr(record, TRAIN), getattr(record, ATTEMPT)) == (
        7,
        "a.b",
        3,
    )


@pytest.mark.django_db
def test_run_fields_on_a_handler_stamp_the_users_records_with_the_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.handler.addFilter(RunFields())
    caplog.set_level(logging.INFO, logger="project.trains")
    row = metadata_create(name="demo.greet", input={"name": "Ada"})
    Metadata.objects.filter(pk=row.pk).update(attempt=3)

    default_service().execute(row.pk)

    (record,) = [r for r in caplog.records if r.name == "project.trains"]
    assert record.getMessage() == "composing a greeting for Ada"
    assert getattr(record, RUN_ID) == row.pk
    assert getattr(record, TRAIN) == "demo.greet"
    assert getattr(record, ATTEMPT) == 3


@pytest.mark.django_db
def test_the_run_fields_are_gone_once_the_run_ended(caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(RunFields())
    with pytest.raises(PaymentDeclined):
        trax.run("demo.always_fails", {"name": "Bo"})
    logging.getLogger("myapp").warning("after")
    assert getattr(caplog.records[-1], RUN_ID) is None


# ── the manager's cycle line ─────────────────────────────────────────────────────────────────


def report(**counts: int) -> CycleReport:
    zero = {f.name: 0 for f in fields(CycleReport)}
    return CycleReport(**{**zero, **counts})


def test_every_count_has_a_phrase() -> None:
    named = {name for name, _, _ in _PHRASES}
    assert named == {f.name for f in fields(CycleReport)} - {"runs_folded"}


def test_routine_work_is_an_info_line_naming_only_what_happened() -> None:
    level, line = report(occurrences_queued=3, runs_deleted=10).summary()
    assert level == logging.INFO
    assert line == "3 scheduled run(s) queued, 10 old run(s) deleted"


def test_failures_retries_and_dead_letters_make_it_a_warning() -> None:
    level, line = report(occurrences_queued=1, retries_queued=2, dead_lettered=1).summary()
    assert level == logging.WARNING
    assert line == "2 retry(ies) queued, 1 dead letter(s), 1 scheduled run(s) queued"


def test_folding_alone_is_not_worth_a_line() -> None:
    assert not report(runs_folded=500).did_anything()


@pytest.mark.django_db
def test_the_cycle_logs_its_summary_with_the_counts_as_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from trax.manager.cycle import run_manager_cycle

    trax.scheduler.schedule("every-minute", "demo.greet", {"name": "Ada"}, trax.Every.minutes(1))
    caplog.set_level(logging.INFO, logger="trax.manager")

    run_manager_cycle()

    (record,) = [r for r in caplog.records if r.getMessage().startswith("manager cycle:")]
    assert record.getMessage() == "manager cycle: 1 scheduled run(s) queued"
    assert record.levelno == logging.INFO
    assert record.trax_cycle["occurrences_queued"] == 1  # type: ignore[attr-defined]
