"""The Processes page: workers, schedulers and web processes, the leader, heartbeat ages (stale
ones marked), concurrency and runs in flight. Read only."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dashboard.access import console_page
from dashboard.processes.listing import processes_now
from dashboard.rendering import render_page
from trax.conf import get_settings
from trax.store import database_now, run_records_alias


@console_page
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Every registered process and leader lease; stale past ``LEASE_SECONDS`` of silence, as
    the overview marks them."""
    using = run_records_alias()
    data = processes_now(database_now(using), using=using, stale_after=get_settings().LEASE_SECONDS)
    return render_page(request, "processes", {"p": data})
