"""django-trax: durable, recorded pipelines and schedules for Django.

The public API is re-exported lazily (PEP 562) so ``import trax.core`` never loads Django and
nothing touches models before the app registry is ready.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # The engine (pure Python).
    "Train": "trax.core",
    "Junction": "trax.core",
    "CancellationToken": "trax.core",
    "TrainCancelled": "trax.core",
    "RunContext": "trax.core",
    "current_run": "trax.core",
    "Success": "trax.core",
    "Failure": "trax.core",
    "Result": "trax.core",
    "FailureContext": "trax.core",
    "failure_context": "trax.core",
    "TraxError": "trax.core",
    "TrainDeclarationError": "trax.core",
    "InputValidationError": "trax.core",
    "SerializationError": "trax.core",
    # Registry and recorded runs (Django).
    "register": "trax.registry",
    "UnknownTrainError": "trax.registry",
    "run": "trax.api",
    "run_result": "trax.api",
    "arun": "trax.api",
    "cancel_run": "trax.api",
    "enqueue": "trax.scheduling.enqueue",
    "enqueue_many": "trax.scheduling.enqueue",
    "scheduler": "trax.scheduling.runtime",
    "schedules": "trax.scheduling.declarations",
    "ManifestItem": "trax.scheduling.declarations",
    "Every": "trax.scheduling.schedules",
    "Cron": "trax.scheduling.schedules",
    "Group": "trax.scheduling.options",
    "activate": "trax.scheduling.dormant",
    "activate_many": "trax.scheduling.dormant",
    "EffectProvider": "trax.effects.providers",
    "LifecycleHook": "trax.effects.hooks",
}

__all__ = [
    "CancellationToken",
    "Cron",
    "EffectProvider",
    "Every",
    "Failure",
    "FailureContext",
    "Group",
    "InputValidationError",
    "Junction",
    "LifecycleHook",
    "ManifestItem",
    "Result",
    "RunContext",
    "SerializationError",
    "Success",
    "Train",
    "TrainCancelled",
    "TrainDeclarationError",
    "TraxError",
    "UnknownTrainError",
    "activate",
    "activate_many",
    "arun",
    "cancel_run",
    "current_run",
    "enqueue",
    "enqueue_many",
    "failure_context",
    "register",
    "run",
    "run_result",
    "scheduler",
    "schedules",
]

if TYPE_CHECKING:
    from trax.api import arun, cancel_run, run, run_result
    from trax.core import (
        CancellationToken,
        Failure,
        FailureContext,
        InputValidationError,
        Junction,
        Result,
        RunContext,
        SerializationError,
        Success,
        Train,
        TrainCancelled,
        TrainDeclarationError,
        TraxError,
        current_run,
        failure_context,
    )
    from trax.effects.hooks import LifecycleHook
    from trax.effects.providers import EffectProvider
    from trax.registry import UnknownTrainError, register
    from trax.scheduling.declarations import ManifestItem, schedules
    from trax.scheduling.dormant import activate, activate_many
    from trax.scheduling.enqueue import enqueue, enqueue_many
    from trax.scheduling.options import Group
    from trax.scheduling.runtime import scheduler
    from trax.scheduling.schedules import Cron, Every


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trax' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
