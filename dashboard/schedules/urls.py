"""Schedules (manifests): when they run, how they fared, their dependency graph; trigger,
enable, disable, cancel running, edit."""

from django.urls import path

from dashboard.schedules import views

urlpatterns = [
    path("", views.index, name="schedules"),
    path("graph/", views.graph, name="schedules_graph"),
    path("act/", views.act_selected, name="schedules_act"),
    path("<int:manifest_id>/", views.detail, name="schedule"),
    path("<int:manifest_id>/edit/", views.edit, name="schedule_edit"),
    path("<int:manifest_id>/<slug:action>/", views.act_one, name="schedule_act"),
]
