"""Workers and schedulers: leader, heartbeat age, concurrency, runs in flight."""

from django.urls import path

from dashboard.processes import views

urlpatterns = [
    path("", views.index, name="processes"),
]
