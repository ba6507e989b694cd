"""``trax_worker`` and ``trax_scheduler`` refuse bad options with clear errors before starting
anything; a named worker whose earlier holder is alive is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from trax.management.commands import trax_scheduler, trax_worker
from trax.models import Worker, WorkerKind
from trax.store import database_now
from trax.workers.identity import worker_id_for
from trax.workers.pool import WorkerPool

MANAGE = str(Path(__file__).resolve().parents[3] / "manage.py")


@pytest.fixture(autouse=True)
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """If a command got past its checks it must not block the test or take its signals."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the command started instead of refusing")

    monkeypatch.setattr(WorkerPool, "run_forever", refuse)
    monkeypatch.setattr(trax_worker, "install_stop_signals", refuse)
    monkeypatch.setattr(trax_scheduler, "install_stop_signals", refuse)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--concurrency", "0"], "argument --concurrency: must be >= 1; got 0"),
        (["--concurrency", "-2"], "argument --concurrency: must be >= 1; got -2"),
        (["--concurrency", "x"], "argument --concurrency: 'x' is not a whole number"),
        (["--name", "bad name!"], "argument --name: 'bad name!' is not a valid name"),
        (["--name", ""], "argument --name: '' is not a valid name"),
        (["--name", "x" * 101], "is not a valid name"),
        (["--shutdown-timeout", "-1"], r"argument --shutdown-timeout: must be .*>= 0; got -1"),
        (["--shutdown-timeout", "nan"], r"argument --shutdown-timeout: must be .*>= 0; got nan"),
        (["--shutdown-timeout", "soon"], "'soon' is not a number of seconds"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
@pytest.mark.django_db
def test_trax_worker_refuses_bad_options(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("trax_worker", *args)
    assert not Worker.objects.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--concurrency", "0"], "argument --concurrency: must be >= 1; got 0"),
        (["--concurrency", "x"], "argument --concurrency: 'x' is not a whole number"),
        (["--name", "bad name!"], "argument --name: 'bad name!' is not a valid name"),
        (["--interval", "0"], r"argument --interval: must be .*> 0; got 0"),
        (["--interval", "-1"], r"argument --interval: must be .*> 0; got -1"),
        (["--interval", "inf"], r"argument --interval: must be .*> 0; got inf"),
        (["--interval", "often"], "'often' is not a number of seconds"),
        # The scheduler's local workers take their grace period from settings only.
        (["--shutdown-timeout", "-1"], "unrecognized arguments: --shutdown-timeout -1"),
    ],
)
@pytest.mark.django_db
def test_trax_scheduler_refuses_bad_options(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("trax_scheduler", *args)
    assert not Worker.objects.exists()


@pytest.mark.parametrize(
    "command, args, message",
    [
        ("trax_worker", ["--concurrency", "0"], "argument --concurrency: must be >= 1"),
        ("trax_worker", ["--shutdown-timeout", "-1"], "argument --shutdown-timeout: must be"),
        ("trax_scheduler", ["--name", "bad name!"], "argument --name:"),
    ],
)
def test_from_the_command_line_bad_options_exit_with_code_2(
    command: str, args: list[str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, MANAGE, command, *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "usage:" in done.stderr


@pytest.mark.django_db
def test_a_named_worker_whose_earlier_holder_is_alive_is_refused() -> None:
    worker_id = worker_id_for("night-shift")
    now = database_now()
    Worker.objects.create(
        worker_id=worker_id,
        host="elsewhere",
        pid=4242,
        kind=WorkerKind.WORKER,
        started_at=now,
        last_heartbeat_at=now,
    )

    with pytest.raises(CommandError, match=f"worker '{worker_id}' is alive") as refused:
        run("trax_worker", "--name", "night-shift")

    assert "pid 4242 on elsewhere" in str(refused.value)
    assert "--name" in str(refused.value)
    row = Worker.objects.get()
    assert (row.pid, row.host) == (4242, "elsewhere")  # untouched


@pytest.mark.django_db
def test_a_named_worker_whose_earlier_holder_is_stale_recovers_and_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stale holder: recovery runs, and the command goes on to start (stopped here)."""
    from datetime import timedelta

    worker_id = worker_id_for("day-shift")
    stale = database_now() - timedelta(hours=1)
    Worker.objects.create(
        worker_id=worker_id,
        host="elsewhere",
        pid=4242,
        kind=WorkerKind.WORKER,
        started_at=stale,
        last_heartbeat_at=stale,
    )
    started: list[str] = []
    monkeypatch.setattr(trax_worker, "install_stop_signals", lambda *a: None)
    monkeypatch.setattr(
        WorkerPool, "run_forever", lambda self: started.append(self.config.worker_id)
    )

    output = run("trax_worker", "--name", "day-shift", "--concurrency", "3")

    assert started == [worker_id]
    assert f"trax worker {worker_id}: 3 run threads" in output
