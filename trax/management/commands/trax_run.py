"""``manage.py trax_run NAME --input JSON``: run a registered train now, recorded."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import NoReverseMatch, reverse

import trax
from trax.conf import effective_settings, get_settings
from trax.core import Failure, Result, RunContext, TraxError
from trax.core.serialization import to_json
from trax.effects import local_tokens
from trax.effects.from_settings import build_service, default_service
from trax.effects.hooks import LifecycleHook
from trax.registry import registered, registry
from trax.workers.cancel_watcher import CancelWatcher


class Command(BaseCommand):
    help = "Run a registered train now, in this process, and record the run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("train", nargs="?", help="The train's registered name.")
        parser.add_argument(
            "--input", default=None, help="The train input as JSON (default: no input)."
        )
        parser.add_argument("--list", action="store_true", help="List registered trains.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for name in registry.names():
                self.stdout.write(name)
            return
        name = options["train"]
        if not name:
            raise CommandError("Name a train to run (see --list).")
        if name not in registry:
            known = ", ".join(registry.names()) or "none"
            raise CommandError(f"No train is registered as {name!r}. Registered: {known}.")
        try:
            data = json.loads(options["input"]) if options["input"] is not None else None
        except json.JSONDecodeError as error:
            raise CommandError(f"--input is not valid JSON: {error}") from None
        try:
            result = self._run(name, data)
        except trax.TrainCancelled as cancelled:
            raise CommandError(f"The run was cancelled: {cancelled}") from None
        except TraxError as error:
            raise CommandError(str(error)) from None
        if isinstance(result, Failure):
            context = result.context
            raise CommandError(
                f"The run failed in junction {context.junction_name or '(none)'}: "
                f"{context.exception_type}: {context.message}"
            )
        output_type = registry.get(name).output_type
        output = to_json(output_type, result.value, what=f"output of {name}")
        self.stdout.write(json.dumps(output, indent=2))

    def _run(self, name: str, data: Any) -> Result[Any]:
        """Run ``name`` recorded, saying its id on stderr when it starts (stdout keeps the
        output), with a cancel watcher so a cancel from another process stops it mid-junction
        (at once on PostgreSQL, within ``CANCEL_CHECK_INTERVAL_SECONDS`` on SQLite)."""
        stderr = self.stderr

        class SayStarted(LifecycleHook):
            def on_started(self, run: RunContext) -> None:
                stderr.write(f"run {run.run_id} ({run.external_id}) of {run.train_name} started")
                if run.run_id is not None and (link := console_link(run.run_id)):
                    stderr.write(f"  watch or cancel it at {link}")

        base = default_service()
        service = build_service(
            effective_settings(),
            hook_classes=(*base.options.hook_classes, SayStarted),
        )
        stopping = threading.Event()
        watcher = CancelWatcher(
            in_flight=local_tokens.running,
            check_interval=get_settings().CANCEL_CHECK_INTERVAL_SECONDS,
            using=service.alias,
            stopping=stopping,
        )
        watcher.start()
        try:
            execution = service.run(registered(name), data)
        finally:
            stopping.set()
            watcher.join(5)
        if execution.cancelled is not None:
            raise execution.cancelled
        assert execution.result is not None
        return execution.result


def console_link(run_id: int) -> str | None:
    """The run's page in the console, when the project mounts it (``dashboard:run``): the path,
    prefixed with ``TRAX_CONSOLE_URL`` from the environment when set (``http://host:8000``)."""
    try:
        path = reverse("dashboard:run", args=[run_id])
    except NoReverseMatch:
        return None
    return os.environ.get("TRAX_CONSOLE_URL", "").rstrip("/") + path
