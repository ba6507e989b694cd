"""Harness of the integration tests: real ``manage.py trax_worker`` / ``trax_scheduler``
processes on this test's PostgreSQL database (reliability anchors §2).

- Children get ``TRAX_TEST_APPS=tests.integration`` (so they load ``tests.integration.trains``)
  and ``TRAX_SETTINGS_JSON`` (short heartbeats, leases and polls); this process registers the
  same trains for the duration of each test.
- Children run in their own session and are SIGKILLed at the end of the test whatever happened;
  their output is printed when a test fails.
- Every wait polls database state (or a file) with a bound; nothing sleeps blindly.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.integration import trains
from trax.registry import registry

BASE_DIR = Path(__file__).resolve().parents[2]
MANAGE = str(BASE_DIR / "manage.py")

#: Django start-up in a child on a loaded two-core machine.
START_LIMIT = 60.0

#: Settings every child gets unless a test overrides them.
FAST: dict[str, Any] = {
    "HEARTBEAT_INTERVAL_SECONDS": 0.2,
    "LEASE_SECONDS": 1,
    "WORKER_POLLING_INTERVAL_SECONDS": 0.2,
    "CANCEL_CHECK_INTERVAL_SECONDS": 0.5,
    "SHUTDOWN_TIMEOUT_SECONDS": 1,
    "MAX_ACTIVE_JOBS": None,
    "JUNCTION_PROGRESS": False,
    "MANAGER_POLLING_INTERVAL_SECONDS": 0.2,
    "DISPATCHER_POLLING_INTERVAL_SECONDS": 0.2,
    "LEADER_LEASE_SECONDS": 5,
    "RETRY_DELAY_SECONDS": 0,
}


def wait_for(
    condition: Callable[[], Any], what: str, *, limit: float = 20.0, every: float = 0.02
) -> Any:
    """Poll ``condition`` every ``every`` seconds until it is truthy; fail after ``limit``
    seconds."""
    deadline = time.monotonic() + limit
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out after {limit:g} s waiting for {what}"
        time.sleep(every)
    return value


@dataclass(frozen=True)
class Start:
    """One ledger line: a run of ``key`` started in process ``pid`` as run ``run_id``."""

    key: str
    pid: int
    run_id: int


def ledger(directory: Path) -> list[Start]:
    path = directory / trains.LEDGER
    if not path.exists():
        return []
    starts = []
    for line in path.read_text().splitlines():
        key, pid, run_id = line.split()
        starts.append(Start(key, int(pid), int(run_id)))
    return starts


def starts_of(directory: Path, key: str) -> list[Start]:
    return [start for start in ledger(directory) if start.key == key]


def release(directory: Path, key: str) -> None:
    """Let the waiting run of ``key`` finish."""
    (directory / f"go-{key}").touch()


def work(directory: Path, key: str, seconds: float = 60.0) -> dict[str, Any]:
    return {"key": key, "dir": str(directory), "seconds": seconds}


@dataclass
class Child:
    """A ``manage.py`` process started by a test."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def send(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL the process (and anything it started) at once."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def wait_exit(self, limit: float) -> int:
        try:
            return self.popen.wait(limit)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} did not exit within {limit:g} s; its output:\n{self.output()}"
            ) from None

    def wait_output(self, text: str, limit: float = 10.0) -> None:
        wait_for(lambda: text in self.output(), f"{text!r} in {self.name}'s output", limit=limit)


class Children:
    """Starts children for one test and kills them all at its end."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.env = env
        self.directory = directory
        self.started: list[Child] = []

    def start(
        self, command: str, *args: str, settings: dict[str, Any] | None = None, name: str = ""
    ) -> Child:
        env = {
            **self.env,
            "TRAX_TEST_APPS": "tests.integration",
            "TRAX_SETTINGS_JSON": json.dumps({**FAST, **(settings or {})}),
        }
        name = name or f"{command}-{len(self.started) + 1}"
        log = self.directory / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, MANAGE, command, *args],
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(name, popen, log)
        self.started.append(child)
        return child

    def worker(self, *args: str, settings: dict[str, Any] | None = None, name: str = "") -> Child:
        return self.start("trax_worker", *args, settings=settings, name=name)

    def dispatcher(self, settings: dict[str, Any] | None = None, name: str = "scheduler") -> Child:
        """A ``trax_scheduler --no-workers``: manager (reaper, retries, due manifests) and
        dispatcher, no run threads."""
        return self.start("trax_scheduler", "--no-workers", settings=settings, name=name)

    def scheduler(
        self, *args: str, settings: dict[str, Any] | None = None, name: str = ""
    ) -> Child:
        """A ``trax_scheduler`` with local workers (its run threads claim like a worker's)."""
        return self.start("trax_scheduler", *args, settings=settings, name=name)

    def kill_all(self) -> None:
        for child in self.started:
            child.kill()


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    tmp_path.chmod(0o777)
    return tmp_path


@pytest.fixture
def children(
    child_process_env: dict[str, str], work_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Children]:
    spawned = Children(child_process_env, work_dir)
    yield spawned
    spawned.kill_all()
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        for child in spawned.started:
            print(f"\n──── {child.name} (pid {child.pid}, exit {child.popen.returncode}) ────")
            print(child.output()[-6000:])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


# Importing the module registered its trains; this process knows them only during a test.
for _train in trains.TRAINS:
    registry.remove(_train.canonical_name())


@pytest.fixture(autouse=True)
def _integration_trains() -> Iterator[None]:
    """This process knows the children's trains only while an integration test runs."""
    for train in trains.TRAINS:
        registry.add(train)
    yield
    for train in trains.TRAINS:
        registry.remove(train.canonical_name())


@pytest.fixture
def quiet_demo_schedules() -> None:
    """The example project's demo schedules, synced and disabled at runtime before a scheduler
    starts: its start-up sync then keeps them disabled, so only the test's work runs."""
    from trax.models import Manifest
    from trax.scheduling.declarations import schedules
    from trax.scheduling.manifests import save_declarations

    save_declarations(schedules.declarations, now=timezone.now(), declared_in_code=True)
    Manifest.objects.update(is_enabled=False, is_enabled_overridden=True)


def wait_until_worker_ready(child: Child) -> None:
    """A worker is ready once its process row exists (written before its threads start)."""
    from trax.models import Worker

    wait_for(
        lambda: Worker.objects.filter(pid=child.pid).exists() or not child.alive(),
        f"{child.name} to register",
        limit=START_LIMIT,
    )
    assert child.alive(), f"{child.name} exited:\n{child.output()}"


def wait_until_leading(child: Child) -> None:
    """A scheduler is ready once it holds the manager lease."""
    from trax.models import Leader

    wait_for(
        lambda: (
            Leader.objects.filter(holder__contains=f":{child.pid}:").exists() or not child.alive()
        ),
        f"{child.name} to take the manager lease",
        limit=START_LIMIT,
    )
    assert child.alive(), f"{child.name} exited:\n{child.output()}"


@pytest.fixture
def through_the_dispatcher(settings: Any) -> None:
    """Enqueues in this process go through the dispatcher (``DIRECT_DISPATCH`` off), for tests
    that dispatch by hand with ``dispatch_now``."""
    settings.TRAX = {**getattr(settings, "TRAX", {}), "DIRECT_DISPATCH": False}


def dispatch_now() -> int:
    """One dispatcher cycle in this process (tests without a scheduler child)."""
    from trax.dispatch.cycle import run_dispatcher_cycle

    return run_dispatcher_cycle().dispatched
