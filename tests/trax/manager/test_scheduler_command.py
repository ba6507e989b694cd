"""``manage.py trax_scheduler``: options, ``--once``, signals, and real processes electing one
leader (DESIGN.md §6; reliability anchors §2.6).

In-process tests drive the command with ``call_command``; the others start real
``manage.py`` processes on this test's database (``child_process_env``), with
``django_db(transaction=True)`` so they see what the test committed. Every wait is bounded and
every process is killed at the end, whatever happened.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

import trax
from trax.manager.service import MANAGER_LEASE
from trax.models import Leader, Manifest, WorkQueue, WorkQueueStatus
from trax.store import database_now, leader_acquire

BASE_DIR = Path(__file__).resolve().parents[3]
GREET = "demo.greet"
PERSON = {"name": "Ada"}
START_LIMIT_SECONDS = 60.0  # Django start-up in a child, on a loaded machine
STOP_LIMIT_SECONDS = 10.0
INTERVAL = "0.2"
#: "Takes over within a few seconds": the lease for --interval 0.2 is 3 x 0.2 = 0.6 s.
TAKEOVER_LIMIT_SECONDS = 3.0


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("trax_scheduler", *args, stdout=out)
    return out.getvalue()


def schedule_tick(every_seconds: int = 60) -> None:
    trax.scheduler.schedule("tick", GREET, PERSON, trax.Every.seconds(every_seconds))


def tick_entries(status: str | None = None) -> Any:
    rows = WorkQueue.objects.filter(manifest__external_id="tick")
    return rows if status is None else rows.filter(status=status)


def manager_lease() -> Leader | None:
    return Leader.objects.filter(name=MANAGER_LEASE).first()


def wait_for(condition: Callable[[], Any], what: str, *, limit: float) -> Any:
    deadline = time.monotonic() + limit
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out after {limit:g} s waiting for {what}"
        time.sleep(0.02)
    return value


# ── in-process: --once and option validation ─────────────────────────────────────────────────


@pytest.mark.django_db
def test_once_runs_one_cycle_prints_cycle_done_and_releases_the_lease() -> None:
    schedule_tick()
    output = run_command("--once")
    assert output.startswith("Cycle done: CycleReport(")
    assert "; dispatch: " in output  # and one dispatcher cycle, which may dispatch it
    assert tick_entries().count() == 1
    queued = WorkQueue.objects.count()  # the demo's declared manifests were due too
    assert f"occurrences_queued={queued}," in output
    assert manager_lease() is None


@pytest.mark.django_db
def test_once_while_another_scheduler_leads_runs_nothing_and_leaves_its_lease() -> None:
    schedule_tick()
    assert leader_acquire(MANAGER_LEASE, "the other one", lease_seconds=30)
    held = manager_lease()
    assert run_command("--once") == "Another scheduler holds the lease; nothing ran.\n"
    assert not tick_entries().exists()
    now = manager_lease()
    assert held is not None and now is not None
    assert (now.holder, now.token, now.expires_at) == (held.holder, held.token, held.expires_at)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (["--interval", "0"], "argument --interval: must be .*> 0; got 0"),
        (["--interval", "-1"], "argument --interval: must be .*> 0; got -1"),
        (["--interval", "abc"], "argument --interval: 'abc' is not a number of seconds"),
        (["--interval", ""], "argument --interval: '' is not a number of seconds"),
        (["--interval", "nan"], "argument --interval: must be .*> 0; got nan"),
        (["--interval", "inf"], "argument --interval: must be .*> 0; got inf"),
        (["--concurrency", "0"], "argument --concurrency: must be >= 1; got 0"),
        (["--name", "a b"], "argument --name: 'a b' is not a valid name"),
    ],
)
def test_a_bad_option_is_refused_with_a_clear_error_and_touches_nothing(
    args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run_command("--once", *args)
    assert not Leader.objects.exists()
    assert not Manifest.objects.exists()  # the declarations were not synced
    assert not WorkQueue.objects.exists()


def acquired_lease_seconds(*args: str) -> float:
    """The lease length the command asks for (its one leader_acquire call, spied)."""
    from trax.manager import service

    with mock.patch.object(service, "leader_acquire", wraps=service.leader_acquire) as spy:
        run_command("--once", *args)
    return float(spy.call_args.kwargs["lease_seconds"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "setting, interval, expected",
    [(10.0, "1", 10.0), (1.0, "0.5", 1.5), (1.0, "2", 6.0)],
    ids=["setting-wins", "three-intervals-win", "three-intervals-win-2"],
)
def test_the_lease_is_leader_lease_seconds_but_at_least_three_intervals(
    settings: Any, setting: float, interval: str, expected: float
) -> None:
    settings.TRAX = {**settings.TRAX, "LEADER_LEASE_SECONDS": setting}
    assert acquired_lease_seconds("--interval", interval) == pytest.approx(expected)


@pytest.mark.django_db
def test_without_leader_lease_seconds_the_lease_is_three_of_the_given_intervals() -> None:
    assert acquired_lease_seconds("--interval", INTERVAL) == pytest.approx(0.6)


# ── real processes ───────────────────────────────────────────────────────────────────────────


@dataclass
class SchedulerProcess:
    """A ``manage.py trax_scheduler`` child; its output goes to files (no pipe to fill up)."""

    label: str
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def describe(self) -> str:
        return (
            f"{self.label} (exit code {self.process.poll()})\n--- stdout\n{self.stdout()}"
            f"\n--- stderr\n{self.stderr()}"
        )

    def wait_for_stdout(self, text: str, *, limit: float = START_LIMIT_SECONDS) -> None:
        deadline = time.monotonic() + limit
        while text not in self.stdout():
            assert self.is_alive(), f"{text!r} never printed; {self.describe()}"
            assert time.monotonic() < deadline, f"{text!r} not printed in time; {self.describe()}"
            time.sleep(0.05)

    def wait_for_stderr(self, text: str, *, limit: float = START_LIMIT_SECONDS) -> None:
        deadline = time.monotonic() + limit
        while text not in self.stderr():
            assert time.monotonic() < deadline, f"{text!r} not logged in time; {self.describe()}"
            time.sleep(0.05)

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, *, limit: float = STOP_LIMIT_SECONDS) -> int:
        try:
            return self.process.wait(limit)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.label} did not exit within {limit:g} s; {self.describe()}")

    def assert_no_errors(self) -> None:
        errors = self.stderr()
        for bad in ("Traceback", "IntegrityError", "ERROR"):
            assert bad not in errors, f"{bad} in the stderr of {self.describe()}"


@pytest.fixture
def start_scheduler(
    child_process_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., SchedulerProcess]]:
    """``start_scheduler(*args, label=...)`` starts a scheduler; all are killed at the end."""
    started: list[SchedulerProcess] = []

    def start(*args: str, label: str = "scheduler") -> SchedulerProcess:
        stdout_path = tmp_path / f"{label}.stdout"
        stderr_path = tmp_path / f"{label}.stderr"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "trax_scheduler", *args],
                cwd=BASE_DIR,
                env=child_process_env,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        child = SchedulerProcess(label, process, stdout_path, stderr_path)
        started.append(child)
        return child

    try:
        yield start
    finally:
        for child in started:
            if child.is_alive():
                child.process.kill()
            child.process.wait(STOP_LIMIT_SECONDS)


@pytest.mark.django_db(transaction=True)
def test_once_in_a_real_process_runs_one_cycle_and_exits_0(
    start_scheduler: Callable[..., SchedulerProcess],
) -> None:
    schedule_tick()
    child = start_scheduler("--once", "--name", "once")
    assert child.wait(limit=START_LIMIT_SECONDS) == 0, child.describe()
    assert child.stdout().startswith("Cycle done: CycleReport("), child.describe()
    assert tick_entries().count() == 1
    assert manager_lease() is None
    child.assert_no_errors()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "value, message", [("0", "must be .*> 0; got 0"), ("abc", "'abc' is not a number of seconds")]
)
def test_a_bad_interval_in_a_real_process_exits_2_with_the_argparse_error(
    start_scheduler: Callable[..., SchedulerProcess], value: str, message: str
) -> None:
    child = start_scheduler("--interval", value)
    assert child.wait(limit=START_LIMIT_SECONDS) == 2, child.describe()
    assert re.search(f"trax_scheduler: error: argument --interval: {message}\n", child.stderr())
    assert child.stdout() == ""
    assert not Leader.objects.exists()
    assert not Manifest.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_a_running_scheduler_cleanly_and_releases_the_lease(
    start_scheduler: Callable[..., SchedulerProcess], signum: signal.Signals
) -> None:
    child = start_scheduler("--interval", INTERVAL, "--name", "solo")  # with local workers
    child.wait_for_stdout(f"trax scheduler solo running (manager every {INTERVAL} s")
    wait_for(
        lambda: (lease := manager_lease()) is not None and lease.holder == "solo",
        "solo to lead",
        limit=START_LIMIT_SECONDS,
    )
    child.send(signum)
    assert child.wait() == 0, child.describe()
    lines = child.stdout().splitlines()
    assert f"Received {signum.name}; stopping gracefully (send it again to exit at once)." in lines
    assert lines[-1] == "trax scheduler stopped."
    assert manager_lease() is None
    child.assert_no_errors()


@pytest.mark.django_db(transaction=True)
def test_a_scheduler_without_workers_keeps_a_process_row_and_removes_it_on_stop(
    start_scheduler: Callable[..., SchedulerProcess],
) -> None:
    from trax.models import Worker

    child = start_scheduler("--interval", INTERVAL, "--name", "lonely", "--no-workers")
    child.wait_for_stdout("no workers")
    row = wait_for(
        lambda: Worker.objects.filter(kind="scheduler").first(),
        "the scheduler's process row",
        limit=START_LIMIT_SECONDS,
    )
    assert row.concurrency == 0 and row.pid == child.process.pid
    child.send(signal.SIGTERM)
    assert child.wait() == 0, child.describe()
    assert not Worker.objects.exists()


def start_two(
    start_scheduler: Callable[..., SchedulerProcess], *, workers: bool
) -> tuple[dict[str, SchedulerProcess], str]:
    """Schedulers A and B on one database; returns them by name and the leader's name."""
    options = ["--interval", INTERVAL] + ([] if workers else ["--no-workers"])
    children = {name: start_scheduler(*options, "--name", name, label=name) for name in ("A", "B")}
    for name, child in children.items():
        child.wait_for_stdout(f"trax scheduler {name} running (manager every {INTERVAL} s")
    lease = wait_for(manager_lease, "a leader", limit=START_LIMIT_SECONDS)
    assert lease.holder in children
    return children, lease.holder


def other(name: str) -> str:
    return "B" if name == "A" else "A"


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_schedulers_elect_one_leader_and_the_survivor_takes_over(
    start_scheduler: Callable[..., SchedulerProcess],
) -> None:
    schedule_tick(every_seconds=1)
    children, leader = start_two(start_scheduler, workers=True)

    # ~3 s of samples: one live holder, never flipping, renewing its lease; the due manifest
    # queued at most once at a time. The leader's dispatcher and the local workers of both
    # processes run each occurrence, freeing the slot, so the next one is queued a second later.
    samples = 0
    renewals = set()
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        lease = manager_lease()
        assert lease is not None
        assert lease.holder == leader, f"the lease moved from {leader} to {lease.holder}"
        assert lease.expires_at > database_now(), "the leader let its lease lapse"
        renewals.add(lease.expires_at)
        assert all(child.is_alive() for child in children.values())
        assert tick_entries(WorkQueueStatus.QUEUED).count() <= 1
        samples += 1
        time.sleep(0.05)
    assert samples >= 10
    assert len(renewals) >= 5, "the leader stopped renewing its lease every cycle"
    made = tick_entries().count()
    assert made >= 2, "the leader's cycle stopped queueing the due manifest"
    assert tick_entries().values("scheduled_at").distinct().count() == made
    took = {name: "took the manager lease" in child.stderr() for name, child in children.items()}
    assert took == {leader: True, other(leader): False}

    # SIGKILL the leader: its lease runs out in database time, then the survivor takes over.
    survivor = other(leader)
    children[leader].process.kill()
    children[leader].wait()
    lease = manager_lease()
    assert lease is not None
    remaining = (lease.expires_at - database_now()).total_seconds()
    killed_at = time.monotonic()
    wait_for(
        lambda: (row := manager_lease()) is not None and row.holder == survivor,
        f"{survivor} to take over",
        limit=max(remaining, 0) + 5.0,
    )
    took_over_after = time.monotonic() - killed_at
    assert took_over_after >= remaining - 0.5, "the lease was taken before it expired"
    assert children[survivor].is_alive(), children[survivor].describe()
    children[survivor].wait_for_stderr(f"{survivor} took the manager lease", limit=5.0)
    first = manager_lease()
    assert first is not None
    wait_for(
        lambda: (row := manager_lease()) is not None and row.expires_at > first.expires_at,
        f"{survivor} to renew the lease",
        limit=5.0,
    )

    # SIGTERM the survivor: it exits 0 promptly and gives the lease up.
    children[survivor].send(signal.SIGTERM)
    assert children[survivor].wait() == 0, children[survivor].describe()
    assert manager_lease() is None
    assert tick_entries(WorkQueueStatus.QUEUED).count() <= 1
    for child in children.values():
        child.assert_no_errors()


@pytest.mark.django_db(transaction=True)
def test_a_stopped_leader_hands_over_at_once(
    start_scheduler: Callable[..., SchedulerProcess],
) -> None:
    children, leader = start_two(start_scheduler, workers=False)
    children[leader].send(signal.SIGTERM)
    assert children[leader].wait() == 0, children[leader].describe()
    # It released its lease on the way out (it did not leave it to expire)...
    row = manager_lease()
    assert row is None or row.holder == other(leader)
    # ... so the follower takes over on its next poll, whatever the lease's length.
    wait_for(
        lambda: (row := manager_lease()) is not None and row.holder == other(leader),
        "the follower to take over",
        limit=TAKEOVER_LIMIT_SECONDS,
    )
    for child in children.values():
        child.assert_no_errors()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_killed_leader_is_replaced_within_a_few_seconds(
    start_scheduler: Callable[..., SchedulerProcess],
) -> None:
    children, leader = start_two(start_scheduler, workers=False)
    children[leader].process.kill()
    children[leader].wait()
    wait_for(
        lambda: (row := manager_lease()) is not None and row.holder == other(leader),
        "the survivor to take over",
        limit=TAKEOVER_LIMIT_SECONDS,
    )
