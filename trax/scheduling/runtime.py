"""The runtime scheduler API (``trax.scheduler``): the same power as the start-up
declarations, plus triggers, switches, cancels and dead-letter resolution. Every call returns
what it did; an unknown external id is a clear error that changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db import transaction
from django.utils import timezone

from trax.api import cancel_run
from trax.effects.cancel import cancel_run_tree
from trax.models import (
    ACTIVE_STATES,
    CancelReason,
    DeadLetter,
    DeadLetterStatus,
    Manifest,
    ManifestGroup,
    Metadata,
    ScheduleType,
)
from trax.scheduling.declarations import ManifestItem, Schedule, ScheduleBuilder, TrainRef
from trax.scheduling.errors import (
    ScheduleError,
    UnknownDeadLetterError,
    UnknownGroupError,
    UnknownManifestError,
)
from trax.scheduling.manifests import save_declarations
from trax.scheduling.options import to_seconds
from trax.store import (
    NewWorkEntry,
    audit_record,
    dead_letter_acknowledge,
    dead_letter_retry,
    manifest_set_enabled,
    run_records_alias,
    work_queue_trigger,
)

ALL: Literal["all"] = "all"


class Scheduler:
    """Runtime scheduling on the ``default`` connection (joins the caller's transaction).
    ``actor`` names who acts in the audit trail; ``audited=False`` leaves the audit row to the
    caller (the console's bulk actions write one row per request, with the count)."""

    def __init__(self, *, using: str = "default", actor: str = "api", audited: bool = True) -> None:
        self.using = using
        self.actor = actor
        self.audited = audited

    def as_actor(self, actor: str, *, audited: bool = True) -> Scheduler:
        """The same API, audited as ``actor`` (a user name, "admin", ...), or not audited."""
        return Scheduler(using=self.using, actor=actor, audited=audited)

    # ── creating and updating manifests ──────────────────────────────────────────────────────

    def schedule(
        self, external_id: str, train: TrainRef, input: Any, schedule: Schedule, **options: Any
    ) -> Manifest:
        """Create or update a manifest running ``train`` on ``schedule``."""
        return self._save(
            ScheduleBuilder().schedule(external_id, train, input, schedule, **options)
        )[0]

    def schedule_many(
        self,
        train: TrainRef,
        items: Iterable[ManifestItem],
        schedule: Schedule,
        *,
        name: str | None = None,
        **options: Any,
    ) -> list[Manifest]:
        """Create or update one manifest per item in one transaction (``{name}-{id}`` ids)."""
        return self._save(
            ScheduleBuilder().schedule_many(train, items, schedule, name=name, **options)
        )

    def schedule_dependent(
        self, external_id: str, train: TrainRef, input: Any, depends_on: str, **options: Any
    ) -> Manifest:
        """A manifest that runs after ``depends_on`` succeeds (``dormant=True``: only when its
        running parent activates it)."""
        item = ManifestItem(external_id, input, depends_on=depends_on)
        return self._save(ScheduleBuilder().then_include_many(train, [item], **options))[0]

    def schedule_many_dependent(
        self,
        train: TrainRef,
        items: Iterable[ManifestItem],
        *,
        name: str | None = None,
        **options: Any,
    ) -> list[Manifest]:
        """Many dependents at once; every item names its parent in ``depends_on``."""
        return self._save(ScheduleBuilder().then_include_many(train, items, name=name, **options))

    def schedule_once(
        self,
        train: TrainRef,
        input: Any,
        *,
        run_at: datetime | None = None,
        delay: timedelta | int | None = None,
        external_id: str | None = None,
        **options: Any,
    ) -> Manifest:
        """A manifest that runs once (at ``run_at`` or after ``delay``) and then disables
        itself. The external id defaults to ``once-<uuid>``."""
        builder = ScheduleBuilder().schedule_once(
            external_id or f"once-{uuid.uuid4().hex}",
            train,
            input,
            run_at=run_at,
            delay=delay,
            **options,
        )
        return self._save(builder)[0]

    def _save(self, builder: ScheduleBuilder) -> list[Manifest]:
        builder.check()
        report = save_declarations(
            builder.declarations,
            now=timezone.now(),
            using=self.using,
            declared_in_code=False,
        )
        for manifest in report.manifests:
            self._audit("manifest.schedule", f"manifest:{manifest.external_id}")
        return list(report.manifests)

    # ── running now ──────────────────────────────────────────────────────────────────────────

    def trigger(self, external_id: str, *, delay: timedelta | int | None = None) -> uuid.UUID:
        """Queue a run of the manifest now (or after ``delay``), even if it is disabled (not if
        its group is). A queued entry is brought forward instead of adding another. Returns the
        entry's external id."""
        manifest = self._manifest(external_id)
        seconds = to_seconds(delay, field="delay") or 0
        entry_id = work_queue_trigger(
            manifest_id=manifest.pk,
            entry=NewWorkEntry(
                train_name=manifest.train_name,
                input=manifest.input,
                manifest_id=manifest.pk,
                priority=manifest.priority,
                is_explicit_trigger=True,
            ),
            scheduled_at=timezone.now() + timedelta(seconds=seconds),
            using=self.using,
        )
        self._audit("manifest.trigger", f"manifest:{external_id}", delay=seconds)
        return entry_id

    def trigger_group(self, group: str) -> int:
        """Trigger every enabled, non-dependent manifest of a group that has nothing queued;
        returns how many were queued."""
        group_row = self._group(group)
        members = (
            Manifest.objects.using(self.using)
            .filter(group=group_row, is_enabled=True)
            .exclude(schedule_type__in=(ScheduleType.DEPENDENT, ScheduleType.DORMANT_DEPENDENT))
        )
        queued = 0
        with transaction.atomic(using=self.using):
            for manifest in members.exclude(work_entries__status="queued"):
                self.trigger(manifest.external_id)
                queued += 1
        return queued

    # ── switches ─────────────────────────────────────────────────────────────────────────────

    def enable(self, external_id: str) -> None:
        """Enable a manifest; the start-up sync will not disable it again."""
        manifest_set_enabled([self._manifest(external_id).pk], True, using=self.using)
        self._audit("manifest.enable", f"manifest:{external_id}")

    def disable(self, external_id: str) -> None:
        """Disable a manifest; the start-up sync will not enable it again."""
        manifest_set_enabled([self._manifest(external_id).pk], False, using=self.using)
        self._audit("manifest.disable", f"manifest:{external_id}")

    # ── cancelling ───────────────────────────────────────────────────────────────────────────

    def cancel(self, external_id: str) -> int:
        """Cancel every pending or running execution of a manifest; returns how many."""
        manifest = self._manifest(external_id)
        count = self._cancel_runs(Metadata.objects.using(self.using).filter(manifest=manifest))
        self._audit("manifest.cancel", f"manifest:{external_id}", runs=count)
        return count

    def cancel_group(self, group: str) -> int:
        """Cancel every pending or running execution of a group's manifests."""
        group_row = self._group(group)
        count = self._cancel_runs(
            Metadata.objects.using(self.using).filter(manifest__group=group_row)
        )
        self._audit("group.cancel", f"group:{group}", runs=count)
        return count

    def cancel_run(self, run: int | str | uuid.UUID) -> int:
        """Cancel one run and its children (see ``trax.cancel_run``)."""
        count = cancel_run(run)
        self._audit("run.cancel", f"run:{run}", runs=count)
        return count

    def _cancel_runs(self, runs: Any) -> int:
        count = 0
        alias = run_records_alias()  # like trax.cancel_run: a caller's rollback keeps the cancel
        for run_id in runs.filter(train_state__in=ACTIVE_STATES).values_list("id", flat=True):
            result = cancel_run_tree(run_id, reason=CancelReason.OPERATOR, using=alias)
            count += 1 if result.flagged else 0
        return count

    # ── dead letters ─────────────────────────────────────────────────────────────────────────

    def retry_dead_letters(
        self, ids: Sequence[int] | Literal["all"], *, note: str = ""
    ) -> list[uuid.UUID]:
        """Requeue awaiting dead letters (one, several or ``"all"``): each manifest gets a new
        entry with its input. Returns the new entries' external ids."""
        letter_ids = self._awaiting_ids(ids)
        entries = dead_letter_retry(letter_ids, actor=self.actor, note=note, using=self.using)
        self._audit("dead_letter.retry", "dead_letters", ids=letter_ids, note=note)
        return [entry.external_id for entry in entries]

    def acknowledge_dead_letters(self, ids: Sequence[int] | Literal["all"], *, note: str) -> int:
        """Acknowledge awaiting dead letters with a note; returns how many."""
        if not isinstance(note, str) or not note.strip():
            raise ScheduleError("acknowledging needs a note saying why", field="note")
        letter_ids = self._awaiting_ids(ids)
        count = dead_letter_acknowledge(letter_ids, actor=self.actor, note=note, using=self.using)
        self._audit("dead_letter.acknowledge", "dead_letters", ids=letter_ids, note=note)
        return count

    def retry_dead_letter(self, letter_id: int, *, note: str = "") -> uuid.UUID | None:
        """Requeue one dead letter; the new entry's id (None if its manifest had one queued)."""
        entries = self.retry_dead_letters([letter_id], note=note)
        return entries[0] if entries else None

    def acknowledge_dead_letter(self, letter_id: int, *, note: str) -> int:
        """Acknowledge one dead letter with a note."""
        return self.acknowledge_dead_letters([letter_id], note=note)

    def _awaiting_ids(self, ids: Sequence[int] | Literal["all"]) -> list[int]:
        awaiting = DeadLetter.objects.using(self.using).filter(
            status=DeadLetterStatus.AWAITING_INTERVENTION
        )
        if ids == ALL:
            return list(awaiting.values_list("id", flat=True))
        if isinstance(ids, str | bytes) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids
        ):
            raise ScheduleError(f"dead letter ids must be ints or 'all'; got {ids!r}", field="ids")
        found = set(awaiting.filter(id__in=list(ids)).values_list("id", flat=True))
        missing = sorted(set(ids) - found)
        if missing:
            raise UnknownDeadLetterError(
                f"no dead letter awaiting intervention has the id(s) {missing}"
            )
        return sorted(found)

    # ── lookups ──────────────────────────────────────────────────────────────────────────────

    def _manifest(self, external_id: str) -> Manifest:
        manifest = Manifest.objects.using(self.using).filter(external_id=external_id).first()
        if manifest is None:
            raise UnknownManifestError(f"no manifest has the external id {external_id!r}")
        return manifest

    def _group(self, name: str) -> ManifestGroup:
        group = ManifestGroup.objects.using(self.using).filter(name=name).first()
        if group is None:
            raise UnknownGroupError(f"no manifest group is named {name!r}")
        return group

    def _audit(self, action: str, target: str, **detail: Any) -> None:
        if not self.audited:
            return
        audit_record(
            actor=self.actor, action=action, target=target, detail=detail, using=self.using
        )


scheduler = Scheduler()
