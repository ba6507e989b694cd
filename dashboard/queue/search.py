"""The queue filter: ``state:queued train:billing.charge nightly``. Terms are ANDed (several
``state:`` are ORed); a word without a field matches the train's name. No ``state:`` shows the
queued and dispatched entries. A term it cannot read is an error naming it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from trax.models import WorkQueue, WorkQueueStatus
from trax.store import run_records_alias

FIELDS = ("state", "train")
STATES = tuple(WorkQueueStatus.values)
#: What the page lists when the filter names no state.
DEFAULT_STATES = (WorkQueueStatus.QUEUED.value, WorkQueueStatus.DISPATCHED.value)
#: The longest filter read.
FILTER_MAX = 1000


class QueueSearchError(ValueError):
    """The filter cannot be read; the message names the term and what would work."""


@dataclass(frozen=True)
class QueueSearch:
    """A parsed filter: each attribute narrows the entries (all at once)."""

    words: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    train: str = ""

    def apply(self, entries: QuerySet[Any]) -> QuerySet[Any]:
        """The work entries this filter matches."""
        for word in self.words:
            entries = entries.filter(train_name__icontains=word)
        entries = entries.filter(status__in=self.states or DEFAULT_STATES)
        if self.train:
            entries = entries.filter(train_name=self.train)
        return entries

    def jobs(self, jobs: QuerySet[Any]) -> QuerySet[Any]:
        """The background jobs whose run's train this filter names (states do not apply)."""
        for word in self.words:
            jobs = jobs.filter(metadata__name__icontains=word)
        if self.train:
            jobs = jobs.filter(metadata__name=self.train)
        return jobs


def parse_queue_search(text: str) -> QueueSearch:
    """Read the filter; raises ``QueueSearchError`` naming the term it cannot read."""
    if len(text) > FILTER_MAX:
        raise QueueSearchError(f"the filter is longer than {FILTER_MAX} characters")
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise QueueSearchError(f"the filter has an unclosed quote ({error})") from None
    found: dict[str, Any] = {"words": [], "states": [], "train": ""}
    for word in words:
        name, colon, value = word.partition(":")
        if not colon:
            found["words"].append(word)
            continue
        if name not in FIELDS:
            raise QueueSearchError(
                f"unknown filter field {name!r}; use one of {', '.join(FIELDS)}, or a word of "
                "the train's name"
            )
        if not value:
            raise QueueSearchError(f"{name}: needs a value, as in {name}:something")
        if name == "state":
            if value.lower() not in STATES:
                raise QueueSearchError(
                    f"state:{value} is not a work entry state; use one of {', '.join(STATES)}"
                )
            found["states"].append(value.lower())
        else:
            found["train"] = value
    return QueueSearch(
        words=tuple(found["words"]), states=tuple(found["states"]), train=found["train"]
    )


def matching_entries(text: str) -> QuerySet[Any]:
    """Every work entry the filter ``text`` matches."""
    return parse_queue_search(text).apply(WorkQueue.objects.using(run_records_alias()))


def queued_matching(text: str) -> QuerySet[Any]:
    """The still queued entries the filter matches: the only ones a cancel changes (the bulk
    action's ``matching``)."""
    return matching_entries(text).filter(status=WorkQueueStatus.QUEUED)
