"""Manifest groups: members, limits, active counts; edit, trigger all, cancel all running."""

from django.urls import path

from dashboard.groups import views

urlpatterns = [
    path("", views.index, name="groups"),
    path("<int:group_id>/", views.detail, name="group"),
    path("<int:group_id>/edit/", views.edit, name="group_edit"),
    path("<int:group_id>/trigger/", views.trigger, name="group_trigger"),
    path("<int:group_id>/cancel/", views.cancel, name="group_cancel"),
]
