"""``manage.py trax_health``: exit 0 when the trax cluster is healthy, 1 when not (a probe)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trax.conf import effective_settings
from trax.metrics.health import HealthThresholds, check_health
from trax.store import run_records_alias


def _non_negative(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise CommandError(f"{text!r} is not a number") from None
        if value < 0:
            raise CommandError(f"{text!r} must be 0 or more")
        return value

    return parse


class Command(BaseCommand):
    help = (
        "Check the database, the leader, the workers, the queue's age and the dead letters "
        "against TRAX['HEALTH_*']; exit 0 when all pass, 1 when one fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--max-queue-age",
            type=_non_negative(float),
            metavar="SECONDS",
            help="Oldest due work may wait this long (default HEALTH_MAX_QUEUE_AGE_SECONDS).",
        )
        parser.add_argument(
            "--min-workers",
            type=_non_negative(int),
            metavar="N",
            help="Live worker processes wanted (default HEALTH_MIN_WORKERS).",
        )
        parser.add_argument(
            "--max-dead-letters",
            type=_non_negative(int),
            metavar="N",
            help="Dead letters that may await a person (default HEALTH_MAX_AWAITING_DEAD_LETTERS).",
        )
        parser.add_argument(
            "--no-leader",
            action="store_true",
            help="Pass even when no scheduler holds the manager lease.",
        )
        parser.add_argument("--database", help="The database alias to read (default: trax's).")

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"] or run_records_alias()
        thresholds = HealthThresholds.from_settings(effective_settings(using=using))
        overrides: dict[str, Any] = {}
        if options["max_queue_age"] is not None:
            overrides["max_queue_age_seconds"] = options["max_queue_age"]
        if options["min_workers"] is not None:
            overrides["min_workers"] = options["min_workers"]
        if options["max_dead_letters"] is not None:
            overrides["max_awaiting_dead_letters"] = options["max_dead_letters"]
        if options["no_leader"]:
            overrides["require_leader"] = False
        report = check_health(replace(thresholds, **overrides), using=using)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            for check in report.checks:
                mark = "ok  " if check.ok else "FAIL"
                self.stdout.write(f"{mark} {check.name:<13} {check.detail}")
            self.stdout.write("healthy" if report.healthy else "unhealthy")
        if not report.healthy:
            sys.exit(1)
