"""The run lifecycle: every recorded run goes ``pending -> in_progress -> completed | failed |
cancelled`` through ``trax.store``, with effects and hooks around the engine.

Three entry points share one shape: ``run`` (run a train now: creates its own row),
``execute`` (run a pending row someone else created) and ``run_claimed`` (a run a worker's
claim already started). Each ends through a ``Finisher``; the lifecycle waits for the write
only when hooks listen.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from trax.core import (
    CancellationToken,
    Failure,
    Result,
    RunContext,
    Success,
    Train,
    TrainCancelled,
    TraxError,
)
from trax.core.context import current_run_or_none
from trax.core.execution import execute_result
from trax.core.serialization import normalise
from trax.effects import local_tokens
from trax.effects.finishers import DirectFinisher, Finisher
from trax.effects.hooks import LifecycleHook, fire_hooks
from trax.effects.logs import RunLogBuffer, capturing
from trax.effects.observer import RunEffects
from trax.effects.outcomes import cancelled, escaped, refusal, settle, train_and_input
from trax.effects.providers import EffectProvider, notify_providers
from trax.metrics.process import counting
from trax.metrics.tracing import start_run
from trax.models import CancelReason, Metadata, TrainState
from trax.store import (
    ClaimedRun,
    HostStamp,
    RunOutcome,
    metadata_create,
    metadata_start,
    run_records_alias,
)

logger = logging.getLogger("trax.runs")

HOOK_NAMES = ("on_started", "on_completed", "on_failed", "on_cancelled")


@dataclass(frozen=True)
class LifecycleOptions:
    """Which effects a run gets. The metadata store itself cannot be switched off."""

    progress: bool = True
    poll_cancel_flag: bool = True
    log_capture: bool = True
    log_level: int = logging.INFO
    log_max_records: int = 1000
    provider_classes: tuple[type[EffectProvider], ...] = ()
    hook_classes: tuple[type[LifecycleHook], ...] = ()
    max_input_bytes: int | None = 1024 * 1024
    #: Count runs in this process's Prometheus instruments (``TRAX['METRICS']``).
    metrics: bool = False
    #: A span per run and junction when an OpenTelemetry SDK is configured (``TRAX['TRACING']``).
    tracing: bool = False


@dataclass(frozen=True)
class Execution:
    """What happened to one execution: its row, final state and result (None if not run)."""

    metadata_id: int
    state: TrainState
    result: Result[Any] | None = None
    cancelled: TrainCancelled | None = None
    recorded: bool = True


class RunService:
    """Runs trains with a metadata record, effects and hooks."""

    def __init__(
        self,
        *,
        options: LifecycleOptions,
        host: HostStamp,
        executor: str,
        alias: str | None = None,
    ) -> None:
        self.options = options
        self.host = host
        self.executor = executor
        self.alias = alias or run_records_alias()
        self.metrics = counting(options.metrics)
        self._listening: dict[type[Train[Any, Any]], bool] = {}

    # Entry point 1: run a train now.
    def run(
        self,
        train: type[Train[Any, Any]],
        input: Any,
        *,
        token: CancellationToken | None = None,
        manifest_id: int | None = None,
    ) -> Execution:
        """Validate the input (nothing is written if it is bad), create the run's row, start it
        and run it. A run started inside another run's junction becomes its child."""
        name = train.canonical_name()
        value, input_json = normalise(
            train.input_type,
            input,
            what=f"input of {name}",
            max_bytes=self.options.max_input_bytes,
        )
        parent = current_run_or_none()
        with transaction.atomic(using=self.alias):
            row = metadata_create(
                name=name,
                input=input_json,
                parent_id=parent.run_id if parent else None,
                manifest_id=manifest_id,
                executor=self.executor,
                using=self.alias,
            )
            started = metadata_start(
                row.pk, host=self.host, executor=self.executor, using=self.alias
            )
        assert started, "a run created in this transaction is pending"
        return self._run_started(
            train,
            value,
            row_id=row.pk,
            external_id=row.external_id,
            manifest_id=manifest_id,
            token=token,
            parent=parent,
            finisher=DirectFinisher(alias=self.alias),
        )

    # Entry point 2: execute a pending row created elsewhere.
    def execute(self, metadata_id: int, *, token: CancellationToken | None = None) -> Execution:
        """Start the pending run ``metadata_id`` (guarded: still pending) and run it. A row
        that is no longer pending is not run."""
        if not metadata_start(
            metadata_id, host=self.host, executor=self.executor, using=self.alias
        ):
            state = (
                Metadata.objects.using(self.alias)
                .filter(id=metadata_id)
                .values_list("train_state", flat=True)
                .first()
            )
            return Execution(metadata_id, TrainState(state or TrainState.CANCELLED), recorded=False)
        row = (
            Metadata.objects.using(self.alias)
            .only(
                "name",
                "input",
                "external_id",
                "manifest_id",
                "parent_id",
                "attempt",
                "trace_parent",
            )
            .get(id=metadata_id)
        )
        return self.run_claimed(
            ClaimedRun(
                job_id=0,
                metadata_id=metadata_id,
                name=row.name,
                input=row.input,
                external_id=row.external_id,
                manifest_id=row.manifest_id,
                parent_id=row.parent_id,
                attempt=row.attempt,
                work_queue_id=None,
                claim_token=uuid.UUID(int=0),
                trace_parent=row.trace_parent,
            ),
            token=token,
            finisher=DirectFinisher(alias=self.alias),
        )

    # Entry point 3: a started run (a worker's claim started it).
    def run_claimed(
        self, claimed: ClaimedRun, *, token: CancellationToken | None, finisher: Finisher
    ) -> Execution:
        """Run a started run; its outcome goes to ``finisher``. A train this process does not
        have fails as ``UnknownTrain`` (never retried)."""
        try:
            train, value = train_and_input(claimed.name, claimed.input)
        except TraxError as error:
            outcome, failure = refusal(claimed.name, error)
            finisher.finish(claimed.metadata_id, outcome, claimed.manifest_id).wait()
            return Execution(claimed.metadata_id, TrainState.FAILED, failure)
        parent = (
            RunContext(train_name="", token=CancellationToken(), run_id=claimed.parent_id)
            if claimed.parent_id
            else None
        )
        return self._run_started(
            train,
            value,
            row_id=claimed.metadata_id,
            external_id=claimed.external_id,
            manifest_id=claimed.manifest_id,
            token=token,
            parent=parent,
            finisher=finisher,
            waited=claimed.waited,
            attempt=claimed.attempt,
            trace_parent=claimed.trace_parent,
            queued=True,
        )

    def hooks_listen(self, train_class: type[Train[Any, Any]]) -> bool:
        """Whether lifecycle hooks (configured, or the train's own) wait for this train's
        runs: then a run's thread waits until its outcome is written before they fire."""
        listening = self._listening.get(train_class)
        if listening is None:
            listening = bool(self.options.hook_classes) or any(
                getattr(train_class, hook) is not getattr(Train, hook) for hook in HOOK_NAMES
            )
            self._listening[train_class] = listening
        return listening

    def _run_started(
        self,
        train_class: type[Train[Any, Any]],
        value: Any,
        *,
        row_id: int,
        external_id: uuid.UUID,
        manifest_id: int | None,
        token: CancellationToken | None,
        parent: RunContext | None,
        finisher: Finisher,
        waited: float | None = None,
        attempt: int | None = 1,
        trace_parent: str = "",
        queued: bool = False,
    ) -> Execution:
        run_token, unlink = _token_for(token, parent)
        context = RunContext(
            train_name=train_class.canonical_name(),
            token=run_token,
            run_id=row_id,
            external_id=str(external_id),
            manifest_id=manifest_id,
            parent=parent,
            attempt=attempt,
        )
        options = self.options
        logs = (
            RunLogBuffer(row_id, level=options.log_level, max_records=options.log_max_records)
            if options.log_capture
            else None
        )
        providers = [cls() for cls in options.provider_classes]
        train = train_class()
        hooks: list[Any] = [cls() for cls in options.hook_classes] + [train]
        tracing = (
            start_run(context, trace_parent=trace_parent, queued=queued, host=self.host.name)
            if options.tracing
            else None
        )
        effects = RunEffects(
            run=context,
            tracing=tracing,
            alias=self.alias,
            progress=options.progress,
            poll_cancel_flag=options.poll_cancel_flag,
            logs=logs,
            providers=providers,
        )
        local_tokens.register(row_id, run_token)
        outcome = RunOutcome(state=TrainState.FAILED, failure_reason="the run did not finish")
        result: Result[Any] | None = None
        cancel: TrainCancelled | None = None
        metrics = self.metrics
        if metrics is not None:
            metrics.run_started(context.train_name, waited)
        began = time.monotonic()
        try:
            with capturing(logs):
                notify_providers(providers, "run_started", context)
                fire_hooks(hooks, "on_started", context)
                try:
                    result = execute_result(
                        train, value, token=run_token, context=context, observer=effects
                    )
                except TrainCancelled as signal:
                    cancel = signal
                    outcome = cancelled(signal.reason, effects.take_timings(TrainState.CANCELLED))
                except BaseException as error:  # KeyboardInterrupt, SystemExit: record, re-raise
                    outcome = escaped(error, effects.take_timings(TrainState.FAILED))
                    raise
                else:  # every junction reached has ended: none is left open
                    timings = effects.take_timings(TrainState.FAILED)
                    result, outcome = settle(train_class, result, timings)
        finally:
            try:
                landing = finisher.finish(row_id, outcome, manifest_id, logs=effects.take_logs())
                if self.hooks_listen(train_class):
                    landing.wait()  # hooks fire only after the outcome is written
            finally:  # even if the finish write failed: no token or callback may leak
                local_tokens.unregister(row_id)
                unlink()
            notify_providers(providers, "run_finished", context, outcome.state)
            if tracing is not None:
                tracing.finish(
                    str(outcome.state), result.error if isinstance(result, Failure) else None
                )
            if metrics is not None:
                metrics.run_finished(
                    context.train_name, str(outcome.state), time.monotonic() - began
                )
        if cancel is not None:
            fire_hooks(hooks, "on_cancelled", context, cancel.reason)
            return Execution(row_id, TrainState.CANCELLED, cancelled=cancel)
        assert result is not None
        if isinstance(result, Success):
            fire_hooks(hooks, "on_completed", context, result.value)
        else:
            fire_hooks(hooks, "on_failed", context, result.error, result.context)
        return Execution(row_id, outcome.state, result)


def _token_for(
    token: CancellationToken | None, parent: RunContext | None
) -> tuple[CancellationToken, Callable[[], None]]:
    """The run's token: the given one, or a fresh one that the parent's token also fires."""
    if token is not None:
        return token, lambda: None
    own = CancellationToken()
    if parent is None or parent.run_id is None or not isinstance(parent.token, CancellationToken):
        return own, lambda: None
    handle = parent.token.add_callback(lambda: own.cancel(CancelReason.PARENT))
    return own, lambda: parent.token.remove_callback(handle)
