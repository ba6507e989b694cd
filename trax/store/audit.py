"""Writer of the audit trail (``trax_audit``): who did what to which object."""

from __future__ import annotations

from typing import Any

from trax.events.notify import notify_changed
from trax.models import Audit


def audit_record(
    *,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    using: str | None = None,
) -> Audit:
    """Append one audit row (joins the caller's transaction on ``using``, default ``default``);
    open Audit pages hear of it (topic ``audit``)."""
    alias = using or "default"
    row = Audit.objects.using(alias).create(
        actor=actor[:255], action=action[:64], target=target[:255], detail=detail or {}
    )
    notify_changed("audit", using=alias)
    return row
