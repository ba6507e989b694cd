"""Lifecycle hooks: global ones from ``TRAX['LIFECYCLE_HOOKS']``, then the train's own.

A hook that raises is logged and never changes the run's outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from trax.core import FailureContext, RunContext
from trax.log_fields import context_fields

logger = logging.getLogger("trax.hooks")


class LifecycleHook:
    """Base class of a global hook; one instance per run. Override what you need."""

    def on_started(self, run: RunContext) -> None:
        """A recorded run started."""

    def on_completed(self, run: RunContext, output: Any) -> None:
        """A recorded run completed with ``output``."""

    def on_failed(self, run: RunContext, error: Exception, context: FailureContext) -> None:
        """A recorded run failed."""

    def on_cancelled(self, run: RunContext, reason: str | None) -> None:
        """A recorded run was cancelled."""


def fire_hooks(hooks: Sequence[Any], event: str, run: RunContext, *args: Any) -> None:
    """Call ``event`` on each hook in order, logging (never raising) what a hook raises."""
    for hook in hooks:
        try:
            getattr(hook, event)(run, *args)
        except Exception:
            logger.exception(
                "lifecycle hook %s.%s raised for run %s of %s; the run's outcome is unchanged",
                type(hook).__qualname__,
                event,
                run.run_id,
                run.train_name,
                extra=context_fields(run),
            )
