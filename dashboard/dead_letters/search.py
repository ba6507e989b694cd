"""The dead letters filter: ``status:awaiting train:billing.charge manifest:nightly timeout``.
Terms are ANDed (several ``status:`` are ORed); a word without a field matches the manifest's
name, its train or the letter's reason. A term it cannot read is an error naming it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from trax.models import DeadLetter, DeadLetterStatus
from trax.store import run_records_alias

FIELDS = ("status", "train", "manifest")
#: ``status:`` values -> the stored status.
STATUSES = {
    "awaiting": DeadLetterStatus.AWAITING_INTERVENTION,
    "awaiting_intervention": DeadLetterStatus.AWAITING_INTERVENTION,
    "retried": DeadLetterStatus.RETRIED,
    "acknowledged": DeadLetterStatus.ACKNOWLEDGED,
}
#: The longest filter read (a longer one is an error, not a slow query).
FILTER_MAX = 1000


class DeadLetterSearchError(ValueError):
    """The filter cannot be read; the message names the term and what would work."""


@dataclass(frozen=True)
class DeadLetterSearch:
    """A parsed filter: each attribute narrows the letters (all at once)."""

    words: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    train: str = ""
    manifest: str = ""

    def apply(self, letters: QuerySet[Any]) -> QuerySet[Any]:
        """The letters this filter matches."""
        for word in self.words:
            letters = letters.filter(
                Q(manifest__external_id__icontains=word)
                | Q(manifest__train_name__icontains=word)
                | Q(reason__icontains=word)
            )
        if self.statuses:
            letters = letters.filter(status__in=self.statuses)
        if self.train:
            letters = letters.filter(manifest__train_name=self.train)
        if self.manifest:
            letters = letters.filter(manifest__external_id=self.manifest)
        return letters


def parse_dead_letter_search(text: str) -> DeadLetterSearch:
    """Read the filter; raises ``DeadLetterSearchError`` naming the term it cannot read."""
    if len(text) > FILTER_MAX:
        raise DeadLetterSearchError(f"the filter is longer than {FILTER_MAX} characters")
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise DeadLetterSearchError(f"the filter has an unclosed quote ({error})") from None
    values: dict[str, Any] = {"words": [], "statuses": []}
    for word in words:
        name, colon, value = word.partition(":")
        if not colon:
            values["words"].append(word)
            continue
        if name not in FIELDS:
            raise DeadLetterSearchError(
                f"unknown filter field {name!r}; use one of {', '.join(FIELDS)}, or a word of "
                "the schedule's name, its train or the reason"
            )
        if not value:
            raise DeadLetterSearchError(f"{name}: needs a value, as in {name}:something")
        if name == "status":
            if value.lower() not in STATUSES:
                raise DeadLetterSearchError(
                    f"status:{value} is not a dead letter status; use awaiting, retried or "
                    "acknowledged"
                )
            values["statuses"].append(str(STATUSES[value.lower()]))
        else:
            values[name] = value
    return DeadLetterSearch(
        words=tuple(values.pop("words")), statuses=tuple(values.pop("statuses")), **values
    )


def matching_letters(text: str) -> QuerySet[Any]:
    """Every dead letter the filter ``text`` matches."""
    return parse_dead_letter_search(text).apply(DeadLetter.objects.using(run_records_alias()))


def awaiting_matching(text: str) -> QuerySet[Any]:
    """The awaiting letters the filter matches: the only ones retry and acknowledge change
    (the bulk actions' ``matching``)."""
    return matching_letters(text).filter(status=DeadLetterStatus.AWAITING_INTERVENTION)
