"""The bench app: installed only in the ``manage.py`` processes a benchmark starts."""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from django.apps import AppConfig

#: Set in a child's environment (with PGAPPNAME): name each connection
#: ``<PGAPPNAME>/<alias>/<thread>`` when Django opens it, so pg_stat_activity shows which alias
#: and which thread of the process holds it (one statement per connection opened; a pool's
#: connection is named again each time it is lent). Connections opened past Django's wrapper
#: (a LISTEN session) keep the bare PGAPPNAME.
LABEL_CONNECTIONS = "TRAX_BENCH_LABEL_CONNECTIONS"

_NUMBERED = re.compile(r"\d+$")


def thread_kind() -> str:
    """The current thread's name with its number starred: ``trax-run-17`` -> ``trax-run-*``."""
    return _NUMBERED.sub("*", threading.current_thread().name)


def label_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "postgresql":
        return
    base = os.environ.get("PGAPPNAME", "")
    # application_name holds 63 bytes.
    label = f"{base}/{connection.alias}/{thread_kind()}"[:63]
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('application_name', %s, false)", [label])


class BenchAppConfig(AppConfig):
    name = "bench.benchapp"
    label = "trax_bench"
    verbose_name = "trax benchmarks"

    def ready(self) -> None:
        if os.environ.get(LABEL_CONNECTIONS):
            from django.db.backends.signals import connection_created

            connection_created.connect(label_connection, dispatch_uid="trax-bench-label")
