"""The trax_run and trax_cancel management commands."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from trax.models import Metadata, TrainState

pytestmark = pytest.mark.django_db


def run_command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_trax_run_prints_the_output_of_a_completed_run() -> None:
    output = run_command("trax_run", "demo.greet", "--input", '{"name": "Ada"}')
    assert json.loads(output) == {"greeting": "HELLO, ADA!", "signed_by": "the Ada fan club"}
    assert Metadata.objects.get().train_state == TrainState.COMPLETED


def test_trax_run_says_the_run_and_its_console_page_when_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRAX_CONSOLE_URL", "http://ops.example:8000/")
    err = StringIO()
    call_command(
        "trax_run", "demo.greet", "--input", '{"name": "Ada"}', stdout=StringIO(), stderr=err
    )
    run = Metadata.objects.get()
    assert f"run {run.pk} ({run.external_id}) of demo.greet started" in err.getvalue()
    assert f"watch or cancel it at http://ops.example:8000/trax/runs/{run.pk}/" in err.getvalue()


def test_trax_run_reports_the_failing_junction() -> None:
    with pytest.raises(CommandError, match="failed in junction charge_card: PaymentDeclined"):
        run_command("trax_run", "demo.always_fails", "--input", '{"name": "Ada"}')
    assert Metadata.objects.get().failure_junction == "charge_card"


@pytest.mark.parametrize(
    "args, message",
    [
        (["demo.nope"], "No train is registered as 'demo.nope'. Registered: "),
        (["demo.greet", "--input", "{not json"], "--input is not valid JSON"),
        (["demo.greet", "--input", '{"nom": 1}'], "input of demo.greet does not match Person"),
        ([], "Name a train to run"),
    ],
)
def test_trax_run_refuses_bad_input_and_writes_nothing(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run_command("trax_run", *args)
    assert not Metadata.objects.exists()


def test_trax_run_lists_registered_trains() -> None:
    assert "demo.slow" in run_command("trax_run", "--list").split()


def test_trax_cancel_refuses_an_unknown_run() -> None:
    with pytest.raises(CommandError, match="no run has the id 12345"):
        run_command("trax_cancel", "12345")


def test_trax_cancel_says_when_the_run_already_finished() -> None:
    run_command("trax_run", "demo.greet", "--input", '{"name": "Ada"}')
    run = Metadata.objects.get()
    assert "already finished" in run_command("trax_cancel", str(run.pk))
