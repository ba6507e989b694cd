"""WebSocket routes of the dashboard, mounted by the project's ASGI router."""

from django.urls import URLPattern, path

from dashboard.consumers import LiveConsumer

websocket_urlpatterns: list[URLPattern] = [
    # Channels routes ASGI applications through Django's path(); its stubs type only views.
    path("trax/live/", LiveConsumer.as_asgi(), name="live"),  # type: ignore[arg-type]
]
