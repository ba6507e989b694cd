"""``manage.py trax_cancel RUN``: cancel a run and its child runs, from any process."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trax.api import UnknownRunError, cancel_run


class Command(BaseCommand):
    help = "Cancel a run (by id or external id) and its child runs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run", help="The run's id or external id.")

    def handle(self, *args: Any, **options: Any) -> None:
        identifier: int | str = options["run"]
        if isinstance(identifier, str) and identifier.isdigit():
            identifier = int(identifier)
        try:
            active = cancel_run(identifier)
        except UnknownRunError as error:
            raise CommandError(str(error)) from None
        if active == 0:
            self.stdout.write(f"Run {options['run']} has already finished; nothing to cancel.")
        else:
            self.stdout.write(f"Cancellation requested for {active} active run(s).")
