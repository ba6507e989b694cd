"""Errors of schedule declaration, validation and the runtime scheduler API."""

from __future__ import annotations

from trax.core import TraxError


class ScheduleError(TraxError, ValueError):
    """A schedule or option is invalid; ``field`` names the offending field when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DeclarationOrderError(ScheduleError):
    """A dependent declaration has no root or cursor to attach to (``then_include`` first)."""


class DependencyCycleError(ScheduleError):
    """Dependencies between manifests, or between their groups, would form a cycle."""

    def __init__(self, message: str, *, members: list[str], field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.members = members


class UnknownManifestError(TraxError, LookupError):
    """No manifest has that external id."""


class UnknownGroupError(TraxError, LookupError):
    """No manifest group has that name."""


class UnknownDeadLetterError(TraxError, LookupError):
    """No dead letter awaiting intervention has that id."""


class ActivationError(TraxError, ValueError):
    """A dormant activation that is not allowed (no running parent, not its dormant child)."""
