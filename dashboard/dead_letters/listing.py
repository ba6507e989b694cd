"""What the Dead letters page shows: a page of letters newest first (paged by id, no OFFSET,
counted up to a cap), each with its latest failure, its failed attempts and, once retried, the
entry and run the retry made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.runs import COUNT_CAP
from trax.models import DeadLetter, Metadata, TrainState, WorkQueue

PAGE = 50
#: Failed attempts listed under a letter at most.
ATTEMPTS_SHOWN = 10
_RUN_FIELDS = ("id", "attempt", "created_at", "end_time", "failure_exception", "failure_reason")


@dataclass(frozen=True)
class DeadLetterRow:
    """One letter as the page shows it."""

    letter: DeadLetter
    attempts: list[Metadata]
    retry_entry: WorkQueue | None


@dataclass(frozen=True)
class DeadLetterPage:
    """A page of letters and where the next one starts."""

    rows: list[DeadLetterRow]
    older_than: int | None
    matching: int
    capped: bool


def dead_letters_page(matched: Any, *, before: int | None, using: str) -> DeadLetterPage:
    """The ``PAGE`` newest letters of ``matched`` older than letter ``before``."""
    letters = matched.select_related("manifest", "last_failed_run").order_by("-id")
    if before is not None:
        letters = letters.filter(id__lt=before)
    found = list(letters[: PAGE + 1])
    more = len(found) > PAGE
    found = found[:PAGE]
    matching = matched.order_by().values("pk")[: COUNT_CAP + 1].count()
    return DeadLetterPage(
        rows=_rows(found, using=using),
        older_than=found[-1].pk if more and found else None,
        matching=min(matching, COUNT_CAP),
        capped=matching > COUNT_CAP,
    )


def _rows(letters: list[DeadLetter], *, using: str) -> list[DeadLetterRow]:
    entries: dict[int, WorkQueue] = {}
    for entry in (
        WorkQueue.objects.using(using)
        .filter(dead_letter_id__in=[letter.pk for letter in letters])
        .select_related("metadata")
        .order_by("id")
    ):
        entries[entry.dead_letter_id] = entry  # type: ignore[index]  # the newest wins
    return [
        DeadLetterRow(letter, _attempts(letter, using=using), entries.get(letter.pk))
        for letter in letters
    ]


def _attempts(letter: DeadLetter, *, using: str) -> list[Metadata]:
    """The manifest's failed runs up to the letter's latest, newest first: one probe of the
    (manifest, state, id) index each, a page's worth of letters at most."""
    runs = Metadata.objects.using(using).filter(
        manifest_id=letter.manifest_id, train_state=TrainState.FAILED
    )
    if letter.last_failed_run_id is not None:
        runs = runs.filter(id__lte=letter.last_failed_run_id)
    else:
        runs = runs.filter(created_at__lte=letter.dead_lettered_at)
    shown = min(letter.retry_count + 1, ATTEMPTS_SHOWN)
    return list(runs.only(*_RUN_FIELDS).order_by("-id")[:shown])
