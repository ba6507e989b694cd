"""The schedules filter: ``nightly group:etl enabled:no blocked:yes outcome:failed``. Terms are
ANDed; a word without a field matches the manifest's name or train. A term it cannot read is an
error naming it, and nothing is listed."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest, NullIf

from trax.models import DeadLetter, DeadLetterStatus, Manifest, Metadata, TrainState
from trax.store import run_records_alias

FIELDS = ("group", "train", "type", "enabled", "blocked", "outcome")
_YES = {"yes": True, "true": True, "on": True, "no": False, "false": False, "off": False}
#: ``outcome:`` values -> the last run's state (``none``: never ran).
OUTCOMES = {
    "completed": "completed",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "running": "in_progress",
    "in_progress": "in_progress",
    "pending": "pending",
    "none": None,
}
_TYPES = ("manual", "interval", "cron", "once", "dependent", "dormant_dependent")


class ScheduleSearchError(ValueError):
    """The filter cannot be read; the message names the term and what would work."""


@dataclass(frozen=True)
class ScheduleSearch:
    """A parsed filter: each attribute narrows the manifests (all at once)."""

    words: tuple[str, ...] = ()
    group: str = ""
    train: str = ""
    type: str = ""
    enabled: bool | None = None
    blocked: bool | None = None
    outcome: tuple[str | None, ...] = ()

    def apply(self, manifests: QuerySet[Any]) -> QuerySet[Any]:
        """The manifests this filter matches (annotated with :func:`annotated`)."""
        manifests = annotated(manifests)
        for word in self.words:
            manifests = manifests.filter(
                Q(external_id__icontains=word) | Q(train_name__icontains=word)
            )
        if self.group:
            manifests = manifests.filter(group__name=self.group)
        if self.train:
            manifests = manifests.filter(train_name=self.train)
        if self.type:
            manifests = manifests.filter(schedule_type=self.type)
        if self.enabled is not None:
            manifests = manifests.filter(is_enabled=self.enabled)
        if self.blocked is not None:
            manifests = manifests.filter(blocked=self.blocked)
        if self.outcome:
            states = [state for state in self.outcome if state is not None]
            never = Q(last_state__isnull=True) if None in self.outcome else Q(pk__in=[])
            manifests = manifests.filter(Q(last_state__in=states) | never)
        return manifests


def annotated(manifests: QuerySet[Any]) -> QuerySet[Any]:
    """Manifests with ``blocked`` (a dead letter awaits a person), ``last_run_id`` and
    ``last_state`` (their newest run's)."""
    awaiting = DeadLetter.objects.filter(
        manifest_id=OuterRef("pk"), status=DeadLetterStatus.AWAITING_INTERVENTION
    )
    # The newest run of each state is one probe of trax_metadata_manifest_idx (manifest,
    # state, id); the newest of all is the largest of the five, at any history's size.
    newest_of_state = [
        Coalesce(
            Subquery(
                Metadata.objects.filter(manifest_id=OuterRef("pk"), train_state=state)
                .order_by("-id")
                .values("id")[:1]
            ),
            0,
        )
        for state in TrainState.values
    ]
    return manifests.annotate(
        blocked=Exists(awaiting),
        last_run_id=NullIf(Greatest(*newest_of_state), 0),
    ).annotate(
        last_state=Subquery(
            Metadata.objects.filter(id=OuterRef("last_run_id")).values("train_state")
        )
    )


def parse_schedule_search(text: str) -> ScheduleSearch:
    """Read the filter; raises ``ScheduleSearchError`` naming the term it cannot read."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise ScheduleSearchError(f"the filter has an unclosed quote ({error})") from None
    values: dict[str, Any] = {"words": [], "outcome": []}
    for word in words:
        name, colon, value = word.partition(":")
        if not colon:
            values["words"].append(word)
            continue
        if name not in FIELDS:
            raise ScheduleSearchError(
                f"unknown filter field {name!r}; use one of {', '.join(FIELDS)}, or a word of "
                "the schedule's name"
            )
        if not value:
            raise ScheduleSearchError(f"{name}: needs a value, as in {name}:something")
        if name in ("enabled", "blocked"):
            if value.lower() not in _YES:
                raise ScheduleSearchError(f"{name}:{value} — write {name}:yes or {name}:no")
            values[name] = _YES[value.lower()]
        elif name == "outcome":
            if value.lower() not in OUTCOMES:
                raise ScheduleSearchError(
                    f"outcome:{value} is not an outcome; use one of {', '.join(OUTCOMES)}"
                )
            values["outcome"].append(OUTCOMES[value.lower()])
        elif name == "type":
            if value.lower() not in _TYPES:
                raise ScheduleSearchError(
                    f"type:{value} is not a schedule type; use one of {', '.join(_TYPES)}"
                )
            values["type"] = value.lower()
        else:
            values[name] = value
    values["words"] = tuple(values["words"])
    values["outcome"] = tuple(values["outcome"])
    return ScheduleSearch(**values)


def matching_manifests(text: str) -> QuerySet[Any]:
    """Every manifest the filter ``text`` matches (the bulk actions' ``matching``)."""
    return parse_schedule_search(text).apply(Manifest.objects.using(run_records_alias()))
