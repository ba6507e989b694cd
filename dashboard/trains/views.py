"""The Trains page (placeholder until it is built)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.access import console_page


@console_page
def index(request: HttpRequest) -> HttpResponse:
    """Trains: not built yet."""
    return render(request, "dashboard/placeholder.html", {"title": "Trains"})
