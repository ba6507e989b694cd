"""Starting a bulk action on all matching objects, and its progress page (placeholder)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.access import console_page


@console_page
def start(request: HttpRequest) -> HttpResponse:
    """Start a bulk action: not built yet."""
    return render(request, "dashboard/placeholder.html", {"title": "Bulk action"})


@console_page
def progress(request: HttpRequest, operation_id: int) -> HttpResponse:
    """A bulk action's progress: not built yet."""
    return render(request, "dashboard/placeholder.html", {"title": "Bulk action"})
