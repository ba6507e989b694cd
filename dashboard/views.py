"""Dashboard pages: staff only."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from trax.models import Metadata, TrainState


@staff_member_required
def overview(request: HttpRequest) -> HttpResponse:
    """The most recent runs, newest first."""
    recent = Metadata.objects.only(
        "id", "name", "train_state", "created_at", "start_time", "end_time"
    )[:50]
    return render(request, "dashboard/overview.html", {"runs": recent, "states": TrainState})
