"""WebSocket routes of the dashboard (the live views arrive with the dashboard issue)."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
