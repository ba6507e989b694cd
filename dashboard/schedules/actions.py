"""What an operator does to schedules — trigger now, enable, disable, cancel running — on one,
selected, or all matching manifests. One implementation each, through the runtime scheduler API
and the store; the caller writes the single audit row."""

from __future__ import annotations

from collections.abc import Mapping

from dashboard.bulk.actions import BulkAction, register
from dashboard.schedules.search import matching_manifests
from trax.models import Manifest
from trax.scheduling.runtime import scheduler
from trax.store import manifest_set_enabled

MANAGE = "trax.manage_schedules"
CANCEL = "trax.cancel_run"


def _external_ids(ids: list[int]) -> list[str]:
    return list(
        Manifest.objects.filter(id__in=ids).order_by("id").values_list("external_id", flat=True)
    )


def trigger(ids: list[int], actor: str, params: Mapping[str, str]) -> int:
    """Queue a run of each manifest now (a queued one is brought forward); how many."""
    api = scheduler.as_actor(actor, audited=False)
    external_ids = _external_ids(ids)
    for external_id in external_ids:
        api.trigger(external_id)
    return len(external_ids)


def enable(ids: list[int], actor: str, params: Mapping[str, str]) -> int:
    """Switch on the disabled ones; how many changed."""
    return _switch(ids, enabled=True)


def disable(ids: list[int], actor: str, params: Mapping[str, str]) -> int:
    """Switch off the enabled ones; how many changed."""
    return _switch(ids, enabled=False)


def _switch(ids: list[int], *, enabled: bool) -> int:
    changing = list(
        Manifest.objects.filter(id__in=ids).exclude(is_enabled=enabled).values_list("id", flat=True)
    )
    return manifest_set_enabled(changing, enabled, using="default")


def cancel(ids: list[int], actor: str, params: Mapping[str, str]) -> int:
    """Cancel every pending or running run of each manifest; how many runs."""
    api = scheduler.as_actor(actor, audited=False)
    return sum(api.cancel(external_id) for external_id in _external_ids(ids))


ACTIONS = {
    action.name: action
    for action in (
        BulkAction("schedules", "trigger", "Trigger now", MANAGE, matching_manifests, trigger),
        BulkAction("schedules", "enable", "Enable", MANAGE, matching_manifests, enable),
        BulkAction("schedules", "disable", "Disable", MANAGE, matching_manifests, disable),
        BulkAction("schedules", "cancel", "Cancel running", CANCEL, matching_manifests, cancel),
    )
}
"""The schedules page's actions by name."""

for _action in ACTIONS.values():
    register(_action)

#: What each action's count counts, for messages.
COUNTED = {"trigger": "triggered", "enable": "enabled", "disable": "disabled", "cancel": "runs"}
