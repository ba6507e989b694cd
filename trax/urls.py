"""trax's own HTTP endpoints, to include at any prefix: ``path("", include("trax.urls"))``
serves the health report at ``/health`` and the Prometheus metrics at ``/metrics``."""

from django.urls import path

from trax.metrics.views import health, metrics

app_name = "trax"

urlpatterns = [
    path("health", health, name="health"),
    path("metrics", metrics, name="metrics"),
]
