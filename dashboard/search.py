"""The runs search box: ``train:billing.charge state:failed host:web-2 error:"Timeout"
input.customer_id:42 since:2026-12-01``. Terms are ANDed; a word without a field searches the
train name. A term the box does not know is an error naming it, and nothing is searched."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime

from trax.models import TrainState

FIELDS = ("train", "state", "host", "error", "group", "schedule", "since", "until")
_INPUT_PATH = re.compile(r"input\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")


class SearchError(ValueError):
    """The search text cannot be read; the message names the term and what would work."""


@dataclass(frozen=True)
class RunSearch:
    """A parsed search: each attribute narrows the runs (all of them at once)."""

    train: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    host: str = ""
    error: str = ""
    group: str = ""
    schedule: str = ""
    since: datetime | None = None
    until: datetime | None = None
    inputs: tuple[tuple[str, Any], ...] = field(default=())

    def apply(self, runs: QuerySet[Any]) -> QuerySet[Any]:
        """The runs this search matches (newest first is the caller's)."""
        if self.train:
            runs = runs.filter(name__in=self.train)
        if self.states:
            runs = runs.filter(train_state__in=self.states)
        if self.host:
            runs = runs.filter(host_name=self.host)
        if self.error:
            runs = runs.filter(
                Q(failure_reason__icontains=self.error) | Q(failure_exception__icontains=self.error)
            )
        if self.group:
            runs = runs.filter(manifest__group__name=self.group)
        if self.schedule:
            runs = runs.filter(manifest__external_id=self.schedule)
        if self.since is not None:
            runs = runs.filter(created_at__gte=self.since)
        if self.until is not None:
            runs = runs.filter(created_at__lt=self.until)
        for path, value in self.inputs:
            runs = runs.filter(**{"input__" + path.replace(".", "__"): value})
        return runs


def parse_search(text: str) -> RunSearch:
    """Read the search box; raises ``SearchError`` naming the term it cannot read."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise SearchError(f"the search has an unclosed quote ({error})") from None
    values: dict[str, Any] = {"train": [], "states": [], "inputs": []}
    for word in words:
        name, colon, value = word.partition(":")
        if not colon:
            values["train"].append(word)
            continue
        if not value:
            raise SearchError(f"{name}: needs a value, as in {name}:something")
        if match := _INPUT_PATH.fullmatch(name):
            values["inputs"].append((match.group(1), _typed(value)))
        elif name == "train":
            values["train"].append(value)
        elif name == "state":
            values["states"].append(_state(value))
        elif name in ("since", "until"):
            values[name] = _moment(name, value)
        elif name in FIELDS:
            values[name] = value
        else:
            known = ", ".join(f"{f}:" for f in FIELDS)
            raise SearchError(f"unknown search field {name!r}; use {known} or input.<field>:")
    return RunSearch(
        train=tuple(values.pop("train")),
        states=tuple(values.pop("states")),
        inputs=tuple(values.pop("inputs")),
        **values,
    )


def _state(value: str) -> str:
    aliases = {"running": TrainState.IN_PROGRESS, "in_progress": TrainState.IN_PROGRESS}
    state = aliases.get(value, value)
    if state not in TrainState.values:
        choices = ", ".join(sorted({*TrainState.values, "running"}))
        raise SearchError(f"state:{value} is not a run state; use one of {choices}")
    return str(state)


def _moment(name: str, value: str) -> datetime:
    """A date (midnight UTC) or an ISO time (UTC unless it says otherwise)."""
    try:
        parsed = parse_datetime(value)
        if parsed is None and (day := parse_date(value)) is not None:
            parsed = datetime(day.year, day.month, day.day)
    except ValueError:  # well formed, but no such day or hour
        parsed = None
    if parsed is None:
        example = "2026-12-01 or 2026-12-01T08:00"
        raise SearchError(f"{name}:{value} is not a date or time; use {example}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _typed(value: str) -> Any:
    """``42`` matches the number 42, ``true``/``false``/``null`` JSON's, anything else a
    string."""
    literals: dict[str, Any] = {"true": True, "false": False, "null": None}
    if value in literals:
        return literals[value]
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return value
