"""The audit filter: ``actor:alice action:dead_letters target:run:42 nightly``. Terms are
ANDed. ``action:`` and ``target:`` match exactly or as a prefix up to a separator
(``action:dead_letters`` finds ``dead_letters.retry``; ``target:run`` finds ``run:42``); a word
without a field matches the actor, action or target. A term it cannot read is an error."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

FIELDS = ("actor", "action", "target")
#: The longest filter read.
FILTER_MAX = 1000


class AuditSearchError(ValueError):
    """The filter cannot be read; the message names the term and what would work."""


@dataclass(frozen=True)
class AuditSearch:
    """A parsed filter: each attribute narrows the audit rows (all at once)."""

    words: tuple[str, ...] = ()
    actor: str = ""
    action: str = ""
    target: str = ""

    def apply(self, rows: QuerySet[Any]) -> QuerySet[Any]:
        """The audit rows this filter matches."""
        for word in self.words:
            rows = rows.filter(
                Q(actor__icontains=word) | Q(action__icontains=word) | Q(target__icontains=word)
            )
        if self.actor:
            rows = rows.filter(actor=self.actor)
        if self.action:
            rows = rows.filter(Q(action=self.action) | Q(action__startswith=f"{self.action}."))
        if self.target:
            rows = rows.filter(Q(target=self.target) | Q(target__startswith=f"{self.target}:"))
        return rows


def parse_audit_search(text: str) -> AuditSearch:
    """Read the filter; raises ``AuditSearchError`` naming the term it cannot read."""
    if len(text) > FILTER_MAX:
        raise AuditSearchError(f"the filter is longer than {FILTER_MAX} characters")
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise AuditSearchError(f"the filter has an unclosed quote ({error})") from None
    found: dict[str, Any] = {"words": []}
    for word in words:
        name, colon, value = word.partition(":")
        if not colon:
            found["words"].append(word)
            continue
        if name not in FIELDS:
            raise AuditSearchError(
                f"unknown filter field {name!r}; use one of {', '.join(FIELDS)}, or a word of "
                "the actor, action or target"
            )
        if not value:
            raise AuditSearchError(f"{name}: needs a value, as in {name}:something")
        found[name] = value
    return AuditSearch(words=tuple(found.pop("words")), **found)
