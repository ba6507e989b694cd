"""A PostgreSQL restart while a run is in flight (reliability anchors §2.3): every process
reconnects and carries on; the run completes exactly once and new work still flows. After a
restart every process still stops cleanly: exit 0, its process row and leader lease removed.

The test restarts the server it runs on (``pg_ctl restart -m fast``, as the data directory's
owner), which suits the throwaway servers of ``make test``; where that is impossible (no
pg_ctl, not root and not the owner) it terminates every other backend instead and says so.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import warnings
from pathlib import Path

import pytest
from django.db import connection, connections

import trax
from tests.integration.conftest import (
    Child,
    Children,
    release,
    starts_of,
    wait_for,
    wait_until_leading,
    wait_until_worker_ready,
    work,
)
from trax.models import BackgroundJob, Leader, Metadata, TrainState, Worker

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

#: A lease that outlives the restart: the run's worker is alive throughout, so its claim must
#: not lapse (with a shorter lease the reaper would rightly fail it as WorkerLost).
SETTINGS = {"LEASE_SECONDS": 15, "HEARTBEAT_INTERVAL_SECONDS": 0.5}


def restart_postgresql() -> str:
    """Restart the server this test uses; returns how it was done."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        (data_dir,) = cursor.fetchone()
        cursor.execute("SHOW server_version_num")
        (version,) = cursor.fetchone()
    major = int(version) // 10000
    pg_ctl = next(
        (
            path
            for path in (f"/usr/lib/postgresql/{major}/bin/pg_ctl", shutil.which("pg_ctl"))
            if path and os.access(path, os.X_OK)
        ),
        None,
    )
    owner_uid = os.stat(data_dir).st_uid if os.path.isdir(data_dir) else None
    runs_as_owner = owner_uid == os.getuid()
    if pg_ctl is None or owner_uid is None or not (runs_as_owner or os.getuid() == 0):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        connections.close_all()
        warnings.warn(
            "cannot restart PostgreSQL here; terminated every other backend instead",
            stacklevel=2,
        )
        return "pg_terminate_backend"
    command = [pg_ctl, "-D", data_dir, "-l", os.path.join(data_dir, "restart.log")]
    command += ["-m", "fast", "-w", "-t", "60", "restart"]
    if not runs_as_owner:
        command = ["runuser", "-u", pwd.getpwuid(owner_uid).pw_name, "--", *command]
    connections.close_all()
    subprocess.run(
        command,
        cwd=data_dir,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=90,
    )
    return "pg_ctl restart"


@pytest.mark.usefixtures("quiet_demo_schedules")
def test_a_database_restart_mid_run_loses_and_doubles_nothing(
    children: Children, work_dir: Path
) -> None:
    scheduler = children.dispatcher(settings=SETTINGS)
    worker = children.worker("--concurrency", "2", settings=SETTINGS)
    wait_until_worker_ready(worker)
    wait_until_leading(scheduler)
    before = trax.enqueue("it.block", work(work_dir, "before"))
    (start,) = wait_for(lambda: starts_of(work_dir, "before"), "the first run to start")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()")
        (booted,) = cursor.fetchone()

    how = restart_postgresql()
    if how == "pg_ctl restart":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_postmaster_start_time()")
            assert cursor.fetchone()[0] > booted, "the server did not restart"

    release(work_dir, "before")
    first = wait_for(
        lambda: Metadata.objects.filter(id=start.run_id, train_state=TrainState.COMPLETED).first(),
        "the run in flight across the restart to complete",
        limit=30,
    )
    after = trax.enqueue("it.record", work(work_dir, "after"))
    second = wait_for(
        lambda: Metadata.objects.filter(
            work_queue__external_id=after, train_state=TrainState.COMPLETED
        ).first(),
        "work queued after the restart to complete",
        limit=30,
    )

    assert first.output == {"key": "before", "pid": worker.pid}
    assert second.output == {"key": "after", "pid": worker.pid}
    for entry in (before, after):  # exactly one run each, completed
        runs = Metadata.objects.filter(work_queue__external_id=entry)
        assert list(runs.values_list("train_state", flat=True)) == [TrainState.COMPLETED]
    assert [s.key for s in starts_of(work_dir, "before") + starts_of(work_dir, "after")] == [
        "before",
        "after",
    ]
    assert not BackgroundJob.objects.exists()
    assert worker.alive() and scheduler.alive(), "a process exited on the outage"
    for child in (worker, scheduler):  # each noticed the outage, said so and carried on
        assert " WARNING trax." in child.output(), child.output()


def postmaster_start_time() -> object:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()")
        return cursor.fetchone()[0]


@pytest.mark.usefixtures("quiet_demo_schedules")
def test_every_process_stops_cleanly_after_a_database_restart(
    children: Children, work_dir: Path
) -> None:
    # A leader whose manager sleeps through the restart: it gives the lease up, and the process
    # row goes, on connections the restart killed while they sat idle.
    leader = children.dispatcher(
        settings={"MANAGER_POLLING_INTERVAL_SECONDS": 60}, name="scheduler-leading"
    )
    wait_until_leading(leader)
    follower = children.scheduler("--concurrency", "1", name="scheduler-with-workers")
    worker = children.worker("--concurrency", "1")
    processes: list[Child] = [leader, follower, worker]
    for child in processes:
        wait_until_worker_ready(child)
    booted = postmaster_start_time()

    how = restart_postgresql()
    if how == "pg_ctl restart":
        assert postmaster_start_time() > booted, "the server did not restart"
    restarted = postmaster_start_time() if how == "pg_ctl restart" else booted

    after = trax.enqueue("it.record", work(work_dir, "after"))
    wait_for(
        lambda: Metadata.objects.filter(
            work_queue__external_id=after, train_state=TrainState.COMPLETED
        ).exists(),
        "work queued after the restart to complete",
        limit=30,
    )
    pids = [child.pid for child in processes]
    wait_for(
        lambda: (
            Worker.objects.filter(pid__in=pids, last_heartbeat_at__gt=restarted).count()
            == len(pids)
        ),
        "every process to beat again after the restart",
        limit=30,
    )
    for child in processes:
        child.send(signal.SIGTERM)

    exits = {child.name: child.wait_exit(30) for child in processes}
    assert exits == {child.name: 0 for child in processes}, "\n\n".join(
        f"{child.name}:\n{child.output()[-3000:]}" for child in processes
    )
    assert list(Worker.objects.filter(pid__in=pids).values_list("worker_id", flat=True)) == []
    assert list(Leader.objects.values_list("holder", flat=True)) == []
