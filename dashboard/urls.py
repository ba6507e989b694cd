from django.urls import include, path

from dashboard import views

app_name = "dashboard"

# Each area of the console keeps its own routes; their names join this namespace
# ("dashboard:schedules", "dashboard:dead_letters", ...).
urlpatterns = [
    path("", views.overview, name="overview"),
    path("runs/", views.runs, name="runs"),
    path("runs/<int:run_id>/", views.run, name="run"),
    path("runs/<int:run_id>/cancel/", views.cancel, name="cancel"),
    path("trains/", include("dashboard.trains.urls")),
    path("schedules/", include("dashboard.schedules.urls")),
    path("groups/", include("dashboard.groups.urls")),
    path("queue/", include("dashboard.queue.urls")),
    path("dead-letters/", include("dashboard.dead_letters.urls")),
    path("processes/", include("dashboard.processes.urls")),
    path("settings/", include("dashboard.runtime_settings.urls")),
    path("audit/", include("dashboard.audit.urls")),
    path("bulk/", include("dashboard.bulk.urls")),
]
