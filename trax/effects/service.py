"""The run lifecycle: every recorded run goes ``pending -> in_progress -> completed | failed |
cancelled`` through ``trax.store``, with effects and hooks around the engine.

Two entry points share it: ``run`` (run a train now: creates its own row) and ``execute`` (run
an existing ``pending`` row someone else created, such as the dispatcher).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.signals import setting_changed
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils.module_loading import import_string

from trax.core import (
    CancellationToken,
    Failure,
    FailureContext,
    Result,
    RunContext,
    SerializationError,
    Success,
    Train,
    TrainCancelled,
    TraxError,
)
from trax.core.context import current_run_or_none
from trax.core.execution import execute_result
from trax.core.serialization import from_json, normalise, to_json
from trax.effects import local_tokens
from trax.effects.hooks import LifecycleHook, fire_hooks
from trax.effects.host import detect_executor, detect_host
from trax.effects.logs import RunLogBuffer, capturing
from trax.effects.observer import RunEffects
from trax.effects.providers import EffectProvider, notify_providers
from trax.models import CancelReason, FailureKind, Metadata, TrainState
from trax.registry import UnknownTrainError, registry
from trax.store import (
    ClaimedRun,
    ExtraWrite,
    HostStamp,
    RunOutcome,
    manifest_record_success,
    metadata_create,
    metadata_finish,
    metadata_start,
    run_records_alias,
)

logger = logging.getLogger("trax.runs")


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


class Finisher(Protocol):
    """Records a run's final state; False when the run was no longer this executor's to finish.
    Workers pass one that batches completions and fences them with the claim token."""

    def __call__(self, metadata_id: int, outcome: RunOutcome, manifest_id: int | None) -> bool: ...


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
        value, input_json = normalise(train.input_type, input, what=f"input of {name}")
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
        )

    # Entry point 2: execute a pending row created elsewhere.
    def execute(
        self,
        metadata_id: int,
        *,
        token: CancellationToken | None = None,
        guard: Q | None = None,
        on_start: Sequence[ExtraWrite] = (),
        on_finish: Sequence[ExtraWrite] = (),
    ) -> Execution:
        """Start the pending run ``metadata_id`` (guarded) and run it. A row that is no longer
        pending is not run. ``guard`` and the extra writes join the start and finish
        transactions (a worker passes its claim token and the job's deletion)."""
        if not metadata_start(
            metadata_id,
            host=self.host,
            executor=self.executor,
            guard=guard,
            also=on_start,
            using=self.alias,
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
            .only("name", "input", "external_id", "manifest_id", "parent_id")
            .get(id=metadata_id)
        )
        try:
            train, value = _train_and_input(row.name, row.input)
        except TraxError as error:
            outcome, failure = _refusal(row.name, error)
            self._finish(metadata_id, outcome, row.manifest_id, guard=guard, also=on_finish)
            return Execution(metadata_id, TrainState.FAILED, failure)
        parent = (
            RunContext(train_name="", token=CancellationToken(), run_id=row.parent_id)
            if (row.parent_id)
            else None
        )
        return self._run_started(
            train,
            value,
            row_id=metadata_id,
            external_id=row.external_id,
            manifest_id=row.manifest_id,
            token=token,
            parent=parent,
            guard=guard,
            on_finish=on_finish,
        )

    # Entry point 3: a run a worker claimed (the claim statement already started it).
    def run_claimed(
        self,
        claimed: ClaimedRun,
        *,
        token: CancellationToken,
        finisher: Finisher,
    ) -> Execution:
        """Run a claimed, already started run; its outcome goes to ``finisher``. A train this
        process does not have fails as ``UnknownTrain`` (never retried)."""
        try:
            train, value = _train_and_input(claimed.name, claimed.input)
        except TraxError as error:
            outcome, failure = _refusal(claimed.name, error)
            finisher(claimed.metadata_id, outcome, claimed.manifest_id)
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
        )

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
        guard: Q | None = None,
        on_finish: Sequence[ExtraWrite] = (),
        finisher: Finisher | None = None,
    ) -> Execution:
        run_token, unlink = _token_for(token, parent)
        context = RunContext(
            train_name=train_class.canonical_name(),
            token=run_token,
            run_id=row_id,
            external_id=str(external_id),
            manifest_id=manifest_id,
            parent=parent,
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
        effects = RunEffects(
            run=context,
            alias=self.alias,
            progress=options.progress,
            poll_cancel_flag=options.poll_cancel_flag,
            logs=logs,
            providers=providers,
        )
        local_tokens.register(row_id, run_token)
        outcome = RunOutcome(state=TrainState.FAILED, failure_reason="the run did not finish")
        result: Result[Any] | None = None
        cancelled: TrainCancelled | None = None
        try:
            with capturing(logs):
                notify_providers(providers, "run_started", context)
                fire_hooks(hooks, "on_started", context)
                try:
                    result = execute_result(
                        train, value, token=run_token, context=context, observer=effects
                    )
                except TrainCancelled as signal:
                    cancelled = signal
                    outcome = RunOutcome(
                        state=TrainState.CANCELLED, cancel_reason=_cancel_reason(signal.reason)
                    )
                except BaseException as error:  # KeyboardInterrupt, SystemExit: record, re-raise
                    outcome = _failed_outcome(error, junction="")
                    raise
                else:
                    result, outcome = _settle(train_class, result)
        finally:
            try:
                effects.flush_logs()
                if finisher is not None:
                    finisher(row_id, outcome, manifest_id)
                else:
                    self._finish(row_id, outcome, manifest_id, guard=guard, also=on_finish)
            finally:  # even if the finish write failed: no token or callback may leak
                local_tokens.unregister(row_id)
                unlink()
            notify_providers(providers, "run_finished", context, outcome.state)
        if cancelled is not None:
            fire_hooks(hooks, "on_cancelled", context, cancelled.reason)
            return Execution(row_id, TrainState.CANCELLED, cancelled=cancelled)
        assert result is not None
        if isinstance(result, Success):
            fire_hooks(hooks, "on_completed", context, result.value)
        else:
            fire_hooks(hooks, "on_failed", context, result.error, result.context)
        return Execution(row_id, outcome.state, result)

    def _finish(
        self,
        metadata_id: int,
        outcome: RunOutcome,
        manifest_id: int | None,
        *,
        guard: Q | None,
        also: Sequence[ExtraWrite],
    ) -> None:
        writes = list(also)
        if outcome.state == TrainState.COMPLETED and manifest_id is not None:
            writes.append(
                lambda: manifest_record_success(manifest_id, metadata_id, using=self.alias)
            )
        if not metadata_finish(metadata_id, outcome, guard=guard, also=writes, using=self.alias):
            logger.warning(
                "run %s was no longer in progress when it finished as %s; its record was left "
                "as another process set it",
                metadata_id,
                outcome.state,
            )


def _train_and_input(name: str, data: Any) -> tuple[type[Train[Any, Any]], Any]:
    """The registered train of a stored run and its validated input (UnknownTrainError,
    InputValidationError)."""
    train = registry.get(name)
    return train, from_json(train.input_type, data, what=f"input of {name}")


def _refusal(name: str, error: TraxError) -> tuple[RunOutcome, Failure]:
    """How a stored run that cannot start is recorded: ``UnknownTrain`` (never retried) or the
    validation error."""
    exception_type = (
        FailureKind.UNKNOWN_TRAIN.value
        if isinstance(error, UnknownTrainError)
        else type(error).__name__
    )
    outcome = RunOutcome(
        state=TrainState.FAILED, failure_exception=exception_type, failure_reason=str(error)
    )
    return outcome, Failure(error, FailureContext(name, "", exception_type, str(error), ""))


def _token_for(
    token: CancellationToken | None, parent: RunContext | None
) -> tuple[CancellationToken, Any]:
    """The run's token: the given one, or a fresh one that the parent's token also fires."""
    if token is not None:
        return token, lambda: None
    own = CancellationToken()
    if parent is None or parent.run_id is None or not isinstance(parent.token, CancellationToken):
        return own, lambda: None
    handle = parent.token.add_callback(lambda: own.cancel(CancelReason.PARENT))
    return own, lambda: parent.token.remove_callback(handle)


def _settle(
    train_class: type[Train[Any, Any]], result: Result[Any]
) -> tuple[Result[Any], RunOutcome]:
    """The outcome to record for an engine result; an output that cannot become JSON fails the
    run with a clear error instead of being half-written."""
    if isinstance(result, Failure):
        c = result.context
        return result, RunOutcome(
            state=TrainState.FAILED,
            failure_junction=c.junction_name,
            failure_exception=c.exception_type,
            failure_reason=c.message,
            stack_trace=c.stack_trace,
        )
    name = train_class.canonical_name()
    try:
        output = to_json(train_class.output_type, result.value, what=f"output of {name}")
    except SerializationError as error:
        context = FailureContext(name, "", type(error).__name__, str(error), "")
        return Failure(error, context), RunOutcome(
            state=TrainState.FAILED,
            failure_exception=type(error).__name__,
            failure_reason=str(error),
        )
    return result, RunOutcome(state=TrainState.COMPLETED, output=output)


def _failed_outcome(error: BaseException, *, junction: str) -> RunOutcome:
    import traceback

    return RunOutcome(
        state=TrainState.FAILED,
        failure_junction=junction,
        failure_exception=type(error).__name__,
        failure_reason=str(error) or type(error).__name__,
        stack_trace="".join(traceback.format_exception(error)),
    )


def _cancel_reason(reason: str | None) -> str:
    return reason if reason in CancelReason.values else ""


class ServiceCache:
    """A RunService rebuilt whenever the effective settings (``settings.TRAX`` plus the runtime
    row) are re-read, so staff changes apply without a restart."""

    def __init__(self, **overrides: Any) -> None:
        self.overrides = overrides
        self._conf: Any = None
        self._service: RunService | None = None
        self._lock = threading.Lock()

    def get(self) -> RunService:
        from trax.conf import effective_settings

        conf = effective_settings()
        with self._lock:
            if self._service is None or conf is not self._conf:
                self._service = build_service(conf, **self.overrides)
                self._conf = conf
            return self._service

    def reset(self) -> None:
        with self._lock:
            self._service = None


_default_cache = ServiceCache()


def default_service() -> RunService:
    """The process's RunService for the current effective settings."""
    return _default_cache.get()


def build_service(conf: Any = None, **overrides: Any) -> RunService:
    """A RunService configured from ``conf`` (default ``settings.TRAX``); keyword overrides for
    LifecycleOptions."""
    from trax.conf import get_settings

    conf = conf or get_settings()
    options = LifecycleOptions(
        progress=conf.JUNCTION_PROGRESS,
        poll_cancel_flag=conf.CANCELLATION_FLAG_POLLING,
        log_capture=conf.LOG_CAPTURE,
        log_level=logging.getLevelName(conf.LOG_CAPTURE_LEVEL),
        log_max_records=conf.LOG_CAPTURE_MAX_RECORDS,
        provider_classes=tuple(import_string(path) for path in conf.EFFECT_PROVIDERS)
        if conf.USER_EFFECT_PROVIDERS_ENABLED
        else (),
        hook_classes=tuple(import_string(path) for path in conf.LIFECYCLE_HOOKS),
    )
    for key, value in overrides.items():
        options = _replace(options, key, value)
    return RunService(
        options=options,
        host=detect_host(labels=conf.HOST_LABELS, environment=conf.HOST_ENVIRONMENT),
        executor=detect_executor(),
    )


def _replace(options: LifecycleOptions, key: str, value: Any) -> LifecycleOptions:
    from dataclasses import replace

    return replace(options, **{key: value})


def reset_default_service() -> None:
    """Drop the cached service (settings changed)."""
    _default_cache.reset()


@receiver(setting_changed)
def _forget_service(*, setting: str, **kwargs: Any) -> None:
    if setting == "TRAX":
        reset_default_service()
