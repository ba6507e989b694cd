"""Rows of every trax table, made directly through the ORM, for the admin tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db.models import Model
from django.utils import timezone

from trax.models import (
    Audit,
    BackgroundJob,
    DeadLetter,
    Leader,
    Log,
    Manifest,
    ManifestGroup,
    Metadata,
    RollupWatermark,
    RunRollup,
    RuntimeSettings,
    TrainState,
    Worker,
    WorkQueue,
)
from trax.store import metadata_create


@dataclass
class Rows:
    group: ManifestGroup
    manifest: Manifest
    run: Metadata
    child: Metadata
    log: Log
    entry: WorkQueue
    dead_letter: DeadLetter
    job: BackgroundJob
    worker: Worker
    leader: Leader
    settings_row: RuntimeSettings
    audit: Audit
    rollup: RunRollup
    watermark: RollupWatermark

    def by_model(self) -> dict[str, Model]:
        return {
            "manifestgroup": self.group,
            "manifest": self.manifest,
            "metadata": self.run,
            "log": self.log,
            "workqueue": self.entry,
            "deadletter": self.dead_letter,
            "backgroundjob": self.job,
            "worker": self.worker,
            "leader": self.leader,
            "runtimesettings": self.settings_row,
            "audit": self.audit,
            "runrollup": self.rollup,
            "rollupwatermark": self.watermark,
        }


@pytest.fixture
def rows(db: None) -> Rows:
    now = timezone.now()
    group = ManifestGroup.objects.create(name="nightly", priority=3)
    manifest = Manifest.objects.create(
        external_id="greet-ada",
        train_name="demo.greet",
        input={"name": "Ada"},
        schedule_type="interval",
        interval_seconds=60,
        group=group,
    )
    entry = WorkQueue.objects.create(
        train_name="demo.greet", input={"name": "Ada"}, manifest=manifest
    )
    run = metadata_create(
        name="demo.greet", input={"name": "Ada"}, manifest_id=manifest.pk, work_queue_id=entry.pk
    )
    Metadata.objects.filter(pk=run.pk).update(
        train_state=TrainState.FAILED,
        start_time=now,
        end_time=now + timedelta(seconds=2),
        failure_junction="ComposeGreeting",
        failure_exception="PaymentDeclined",
        failure_reason="card <b>declined</b>",
        stack_trace='Traceback (most recent call last):\n  File "x.py", line 1\nPaymentDeclined',
        host_labels={"project": "example"},
    )
    run.refresh_from_db()
    child = metadata_create(name="demo.greet", input={"name": "Bob"}, parent_id=run.pk)
    log = Log.objects.create(
        metadata=run, level="INFO", logger="project.trains", message="hello", created_at=now
    )
    dead_letter = DeadLetter.objects.create(
        manifest=manifest, last_failed_run=run, reason="retries ran out", retry_count=3
    )
    job = BackgroundJob.objects.create(
        metadata=child,
        claimed_by="host:worker-1",
        claim_token=uuid.uuid4(),
        lease_expires_at=now + timedelta(seconds=30),
    )
    worker = Worker.objects.create(
        worker_id="host:worker-1",
        host="host",
        pid=123,
        kind="worker",
        concurrency=4,
        started_at=now,
        last_heartbeat_at=now,
    )
    leader = Leader.objects.create(
        name="scheduler", holder="host:worker-1", token=uuid.uuid4(), expires_at=now
    )
    settings_row = RuntimeSettings.objects.create(max_active_jobs=5)
    audit = Audit.objects.create(
        actor="admin", action="manifest.change", target="manifest:1", detail={"a": 1}
    )
    minute = now.replace(second=0, microsecond=0)
    rollup = RunRollup.objects.create(
        bucket_seconds=60, bucket=minute, train="demo.greet", outcome="failed", runs=1, started=1
    )
    watermark = RollupWatermark.objects.create(id=1, folded_end_time=now, settled_before=now)
    return Rows(
        group=group,
        manifest=manifest,
        run=run,
        child=child,
        log=log,
        entry=entry,
        dead_letter=dead_letter,
        job=job,
        worker=worker,
        leader=leader,
        settings_row=settings_row,
        audit=audit,
        rollup=rollup,
        watermark=watermark,
    )
