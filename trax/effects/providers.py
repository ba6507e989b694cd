"""Effect providers: code told about each run and junction boundary (``TRAX['EFFECT_PROVIDERS']``).

One instance per run. A provider that raises is logged and never changes the run's outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from trax.core import RunContext
from trax.log_fields import context_fields

logger = logging.getLogger("trax.effects")


class EffectProvider:
    """Base class of a user effect provider; override any of these."""

    def run_started(self, run: RunContext) -> None:
        """The run moved to ``in_progress``."""

    def junction_started(self, run: RunContext, junction: str) -> None:
        """A junction is about to run."""

    def junction_finished(
        self, run: RunContext, junction: str, error: BaseException | None
    ) -> None:
        """A junction returned (``error`` None) or raised."""

    def run_finished(self, run: RunContext, state: str) -> None:
        """The run's final state was recorded."""


def notify_providers(
    providers: Sequence[EffectProvider], event: str, run: RunContext, *args: Any
) -> None:
    """Call ``event`` on every provider, logging what one raises."""
    for provider in providers:
        try:
            getattr(provider, event)(run, *args)
        except Exception:
            logger.exception(
                "effect provider %s.%s raised for run %s; ignored",
                type(provider).__qualname__,
                event,
                run.run_id,
                extra=context_fields(run),
            )
