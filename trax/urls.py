"""trax's own HTTP endpoints, to include at any prefix: ``path("", include("trax.urls"))``
serves the health view at ``/health``."""

from django.urls import path

from trax.metrics.views import health

app_name = "trax"

urlpatterns = [
    path("health", health, name="health"),
]
