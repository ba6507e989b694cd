"""Rendering a console page whole, or only its live part when the page's own script asks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

#: The header a page's own script sends when it fetches a fresh copy of its live part.
FRAGMENT_HEADER = "HTTP_X_TRAX_FRAGMENT"


def wants_fragment(request: HttpRequest) -> bool:
    """Whether the request is the page script's refetch of the live part."""
    return bool(request.META.get(FRAGMENT_HEADER))


def page_template(request: HttpRequest, page: str) -> str:
    """``dashboard/<page>.html`` for the whole page, ``<page>_live.html`` for a refetch."""
    live = "_live" if wants_fragment(request) else ""
    return f"dashboard/{page}{live}.html"


def render_page(
    request: HttpRequest, page: str, context: Mapping[str, Any], *, status: int = 200
) -> HttpResponse:
    """Render ``page`` (whole or its live part, see :func:`page_template`)."""
    return render(request, page_template(request, page), dict(context), status=status)
