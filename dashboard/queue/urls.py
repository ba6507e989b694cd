"""Queued and dispatched work entries and background jobs; cancel a queued entry."""

from django.urls import path

from dashboard.queue import views

urlpatterns = [
    path("", views.index, name="queue"),
    path("cancel/", views.cancel_selected, name="queue_cancel"),
    path("<int:entry_id>/cancel/", views.cancel_one, name="queue_cancel_one"),
]
