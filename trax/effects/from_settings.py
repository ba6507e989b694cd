"""The run service built from settings: ``settings.TRAX`` plus the runtime row, rebuilt when
they change so staff changes apply without a restart."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from trax.conf import TraxSettings, effective_settings, get_settings
from trax.effects.host import detect_executor, detect_host
from trax.effects.lifecycle import LifecycleOptions, RunService


def build_service(conf: TraxSettings | None = None, **overrides: Any) -> RunService:
    """A RunService configured from ``conf`` (default ``settings.TRAX``); keyword overrides for
    LifecycleOptions."""
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
        max_input_bytes=conf.MAX_INPUT_BYTES,
        metrics=conf.METRICS,
        tracing=conf.TRACING,
    )
    return RunService(
        options=dataclasses.replace(options, **overrides),
        host=detect_host(labels=conf.HOST_LABELS, environment=conf.HOST_ENVIRONMENT),
        executor=detect_executor(),
    )


class ServiceCache:
    """A RunService rebuilt whenever the effective settings are re-read."""

    def __init__(self, **overrides: Any) -> None:
        self.overrides = overrides
        self._conf: TraxSettings | None = None
        self._service: RunService | None = None
        self._lock = threading.Lock()

    def get(self, *, using: str = "default") -> RunService:
        """The service for the effective settings, read through ``using`` when they are due."""
        conf = effective_settings(using=using)
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


def reset_default_service() -> None:
    """Drop the cached service (settings changed)."""
    _default_cache.reset()


@receiver(setting_changed)
def _forget_service(*, setting: str, **kwargs: Any) -> None:
    if setting == "TRAX":
        reset_default_service()
